//! One resource of any shape inside a well-formed transaction bundle, so that the
//! fuzzer spends its effort in the FHIR mapping (dates, quantities, references, codes,
//! attachments, narratives) rather than in the bundle's own JSON.
#![no_main]

use app::privacy::CodeList;
use app::server::storage::OrganisationId;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use server::ingest::{Sender, map_bundle};

fuzz_target!(|data: &[u8]| {
    let Ok(resource) = std::str::from_utf8(data) else {
        return;
    };
    let body = format!(
        "{{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[\
         {{\"fullUrl\":\"urn:uuid:p\",\"resource\":{{\"resourceType\":\"Patient\",\
         \"identifier\":[{{\"system\":\"https://fhir.nhs.uk/Id/nhs-number\",\"value\":\"9990000018\"}}]}}}},\
         {{\"fullUrl\":\"urn:uuid:x\",\"resource\":{resource}}}]}}"
    );
    let sender = Sender {
        organisation: OrganisationId(1),
        received_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        request_id: None,
    };
    let _ = map_bundle(&sender, &CodeList::default_list(), &body);
});
