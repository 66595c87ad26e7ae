//! Benchmark baseline: read and parse every TOML file under a directory, single-threaded, with
//! the same parser opl uses, and nothing else.
//!
//! cargo run --release --example parse_baseline -- DIR

#![allow(clippy::print_stdout, clippy::print_stderr)]

fn main() {
    let dir = std::env::args().nth(1).expect("usage: parse_baseline DIR");
    let (mut files, mut items) = (0usize, 0usize);
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.expect("walk");
        if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(e.path()).expect("read");
            let doc = toml_edit::Document::parse(text).expect("parse");
            items += doc.as_table().len();
            files += 1;
        }
    }
    println!("parsed {files} files ({items} top-level items)");
}
