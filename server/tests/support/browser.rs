//! A minimal browser for tests: keeps cookies per host and path-less, follows nothing by
//! itself (so each redirect can be checked), and sends `Origin` on form posts the way a
//! real browser does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

pub struct Browser {
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    pub origin: String,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub url: String,
}

impl Page {
    pub fn location(&self) -> String {
        self.headers
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .find(|c| c.starts_with(&format!("{name}=")))
    }
}

impl Browser {
    pub fn new(origin: &str) -> Self {
        let client = super::http_client();
        Self {
            client,
            cookies: BTreeMap::new(),
            origin: origin.to_owned(),
        }
    }

    /// The `Cookie` header this browser sends: every cookie it holds.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            match cookie_update(value.to_str().unwrap()) {
                (name, Some(value)) => {
                    self.cookies.insert(name, value);
                }
                (name, None) => {
                    self.cookies.remove(&name);
                }
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let url = response.url().to_string();
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
            url,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let response = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    /// A download: its status, headers and bytes as sent.
    pub async fn get_bytes(&mut self, url: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
        let response = self
            .client
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.bytes().await.unwrap().to_vec())
    }

    /// Follows redirects from `url` until a page answers, returning every hop.
    pub async fn follow(&mut self, url: &str) -> Vec<Page> {
        let mut hops = Vec::new();
        let mut next = url.to_owned();
        for _ in 0..10 {
            let page = self.get(&next).await;
            let location = page.location();
            let redirected = page.status.is_redirection();
            hops.push(page);
            if !redirected {
                break;
            }
            next = absolute(&next, &location);
        }
        hops
    }

    /// Signs `person` in through the built-in simulator as a browser does: `login` (the
    /// portal's sign-in address) redirects to the simulator, whose page's form is posted
    /// with the person chosen, and the simulator's redirect is followed back to the
    /// portal. Answers every hop from the callback on.
    pub async fn sign_in_through_simulator(&mut self, login: &str, person: &str) -> Vec<Page> {
        let start = self.get(login).await;
        let authorize_url = start.location();
        let page = self.get(&authorize_url).await;
        let mut fields = hidden_fields(&page.body);
        fields.push(("person".into(), person.into()));
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let decision = self
            .post_form(&absolute(&authorize_url, "authorize"), &fields)
            .await;
        self.follow(&decision.location()).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(url)
            .header("cookie", self.cookie_header())
            .header("origin", &self.origin)
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }

    pub async fn post_form_without_origin(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let response = self
            .client
            .post(url)
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep(response).await
    }
}

/// What a `Set-Cookie` header does to the jar: the cookie's name, and its new value or
/// `None` when it removes the cookie (or sets it empty). A removal says so in its
/// attributes, never in its value: a session id is random hex, and about one in a
/// thousand contains "1970" (looking for that anywhere in the header once threw away
/// good sessions now and then).
pub fn cookie_update(header: &str) -> (String, Option<String>) {
    let mut parts = header.split(';');
    let pair = parts.next().unwrap_or_default();
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    let removed = parts.map(str::trim).any(|attribute| {
        let lower = attribute.to_ascii_lowercase();
        lower == "max-age=0" || (lower.starts_with("expires=") && lower.contains("1970"))
    });
    let value = (!removed && !value.is_empty()).then(|| value.to_owned());
    (name.trim().to_owned(), value)
}

pub fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every hidden input (name, value) in a page, in order.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|chunk| {
            let (name, rest) = chunk.split_once('"')?;
            let rest = rest.strip_prefix(" value=\"")?;
            let (value, _) = rest.split_once('"')?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

pub fn hidden_field(html: &str, name: &str) -> Option<String> {
    hidden_fields(html)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}
