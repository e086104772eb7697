//! Whatever bytes arrive as a bundle, the reader and the mapping answer with a mapped
//! delivery or an error: never a panic, never a hang.
#![no_main]

use app::privacy::CodeList;
use app::server::storage::OrganisationId;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use server::ingest::{Sender, map_bundle};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    let sender = Sender {
        organisation: OrganisationId(1),
        received_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        request_id: None,
    };
    let _ = map_bundle(&sender, &CodeList::default_list(), body);
});
