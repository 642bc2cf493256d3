//! Generates every file named in the list at `$WIRECALL_REALWORLD_LIST`: one line per file,
//! `INCLUDE_DIR<TAB>PATH_UNDER_IT` (scripts/zoo.sh writes it from the installed packages).
fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-env-changed=WIRECALL_REALWORLD_LIST");
    let list = std::env::var("WIRECALL_REALWORLD_LIST")
        .map_err(|_| std::io::Error::other("set WIRECALL_REALWORLD_LIST (scripts/zoo.sh does)"))?;
    println!("cargo:rerun-if-changed={list}");
    let mut includes: Vec<String> = Vec::new();
    let mut files = Vec::new();
    for line in std::fs::read_to_string(&list)?.lines() {
        let (include, file) = line
            .split_once('\t')
            .ok_or_else(|| std::io::Error::other(format!("bad line in {list}: {line}")))?;
        if !includes.iter().any(|i| i == include) {
            includes.push(include.to_string());
        }
        files.push(file.to_string());
    }
    let mut builder = wirecall_build::Builder::new();
    builder.prost_config().include_file("realworld.rs");
    builder.compile(&files, &includes)
}
