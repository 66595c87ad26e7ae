//! The reference-path parser: never a panic, and what it accepts displays and parses back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(p) = opl::model::key_path::KeyPath::parse(text) {
        let shown = p.to_string();
        let again = opl::model::key_path::KeyPath::parse(&shown).expect("a displayed path parses");
        assert_eq!(again, p, "{text:?} -> {shown:?}");
    }
});
