//! The doctor's parsers and rows on fixtures: binfmt_misc dirs, os-release files, Go VERSION
//! files.

use crossmatrix_toolchains::binfmt::read_binfmt;
use crossmatrix_toolchains::doctor::{
    OsRelease, Status, UsernsSysctls, binfmt_capability, parse_os_release, userns_capability,
};
use crossmatrix_toolchains::go::parse_version_file;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn os(name: &str) -> OsRelease {
    parse_os_release(&std::fs::read_to_string(fixture(&format!("os-release/{name}"))).unwrap())
}

#[test]
fn os_release_files() {
    let d = os("debian-12");
    assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
    assert_eq!(d.pretty_name, "Debian GNU/Linux 12 (bookworm)");
    assert!(d.id_like.is_empty());
    assert!(!d.ubuntu_with_userns_restriction());

    let u = os("ubuntu-24.04");
    assert_eq!(u.id, "ubuntu");
    assert!(u.is_like("debian"));
    assert!(u.ubuntu_with_userns_restriction());
    assert!(!os("ubuntu-22.04").ubuntu_with_userns_restriction());

    let a = os("alpine-3.20");
    assert_eq!((a.id.as_str(), a.version_id.as_str()), ("alpine", "3.20.3"));
    assert_eq!(a.pretty_name, "Alpine Linux v3.20");
    assert_eq!(parse_os_release(""), OsRelease::default());
}

#[test]
fn ubuntu_2404_without_bwrap_profile_gets_the_apparmor_fix() {
    let failed: Result<(), String> = Err("bwrap: setting up uid map: Permission denied".into());
    let restricted = UsernsSysctls {
        apparmor_restrict: Some(true),
        unprivileged_clone: None,
        max_user_namespaces: Some(63_000),
    };
    let c = userns_capability(Some(&failed), &restricted, &os("ubuntu-24.04"), false);
    assert_eq!(c.status, Status::Missing);
    assert!(c.required);
    assert!(c.detail.contains("uid map"), "{}", c.detail);
    assert!(
        c.fix
            .as_deref()
            .unwrap()
            .contains("kernel.apparmor_restrict_unprivileged_userns=0")
    );
}

#[test]
fn binfmt_fixture_dirs() {
    let with_f = read_binfmt(&fixture("binfmt"));
    let c = binfmt_capability("arm64", &with_f, false);
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c.detail.contains("qemu-aarch64") && c.detail.contains("PF"));
    // The riscv64 entry is disabled: as if there were none.
    let c = binfmt_capability("riscv64", &with_f, true);
    assert_eq!(c.status, Status::Degraded, "{c:?}");
    assert!(c.detail.contains("no registration"), "{}", c.detail);

    let no_f = read_binfmt(&fixture("binfmt-no-f"));
    let c = binfmt_capability("s390x", &no_f, true);
    assert_eq!(c.status, Status::Degraded, "{c:?}");
    assert!(c.detail.contains("flags OC: no F flag"), "{}", c.detail);
    assert!(c.fix.as_deref().unwrap().contains("qemu-s390x"));
}

#[test]
fn go_version_files() {
    let v = |name: &str| {
        parse_version_file(
            &std::fs::read_to_string(fixture(&format!("go-version/{name}"))).unwrap(),
        )
    };
    assert_eq!(v("go1.24.4").as_deref(), Some("go1.24.4"));
    assert_eq!(v("go1.21.13").as_deref(), Some("go1.21.13"));
    assert_eq!(v("go1.20.14-no-newline").as_deref(), Some("go1.20.14"));
    assert!(v("devel").unwrap().starts_with("devel go1.25-1a2b3c4"));
    assert_eq!(v("empty-lines"), None);
}
