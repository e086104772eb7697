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

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, response: Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = text.contains("Max-Age=0") || text.contains("1970");
            if removed || value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
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
