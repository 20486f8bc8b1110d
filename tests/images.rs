//! "Will it run in my image?": a `docker save` tarball the test builds (two layers, a whiteout)
//! as the rootfs of cells on two architectures — the binary finds what the image has, the
//! record names the image by digest, and the same program on `scratch` does not.

mod common;

use common::{crossmatrix, records, require_host, shared_cache};
use sha2::{Digest, Sha256};
use std::path::Path;

fn hex(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

/// A layer tarball of `(path, content)` files (directories made as needed).
fn layer(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs: Vec<String> = Vec::new();
    for (path, body) in files {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            let d = format!("{}/", parts[..i].join("/"));
            if !dirs.contains(&d) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, &d, std::io::empty()).unwrap();
                dirs.push(d);
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        b.append_data(&mut h, path, *body).unwrap();
    }
    b.into_inner().unwrap()
}

/// A `docker save` tarball of one image for `arch` made of `layers`.
fn docker_save(path: &Path, arch: &str, layers: &[Vec<u8>]) {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("\"sha256:{}\"", hex(l)))
        .collect();
    let config = format!(
        "{{\"architecture\":\"{arch}\",\"os\":\"linux\",\"config\":{{}},\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
        diff_ids.join(",")
    );
    let config_name = format!("{}.json", hex(config.as_bytes()));
    let layer_names: Vec<String> = layers
        .iter()
        .map(|l| format!("{}/layer.tar", hex(l)))
        .collect();
    let manifest = format!(
        "[{{\"Config\":\"{config_name}\",\"RepoTags\":[\"test/probe-root:1\"],\"Layers\":[{}]}}]",
        layer_names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        out.append_data(&mut h, name, data).unwrap();
    };
    add("manifest.json", manifest.as_bytes());
    add(&config_name, config.as_bytes());
    for (name, l) in layer_names.iter().zip(layers) {
        add(name, l);
    }
    out.finish().unwrap();
}

#[test]
fn an_image_is_the_root_cells_run_in() {
    require_host!(false);
    let d = tempfile::tempdir().unwrap();
    let zone = std::fs::read("/usr/share/zoneinfo/Asia/Shanghai").expect("host tzdata");
    // Layer 1: a user database and a time zone, and a file layer 2 deletes.
    let l1 = layer(&[
        ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"),
        ("etc/group", b"root:x:0:\n"),
        ("usr/share/zoneinfo/Asia/Shanghai", &zone),
        ("etc/secret", b"removed in layer 2\n"),
    ]);
    let l2 = layer(&[("etc/.wh.secret", b""), ("etc/motd", b"layer two\n")]);
    for arch in ["amd64", "arm64"] {
        docker_save(
            &d.path().join(format!("root-{arch}.tar")),
            arch,
            &[l1.clone(), l2.clone()],
        );
    }
    common::unique_program(
        &d.path().join("inimage.go"),
        "(\"fmt\"; \"os\"; \"time\")",
        "if _, err := time.LoadLocation(\"Asia/Shanghai\"); err != nil { fmt.Println(err); os.Exit(1) }; \
         if _, err := os.Stat(\"/etc/secret\"); err == nil { fmt.Println(\"whiteout ignored\"); os.Exit(1) }; \
         b, _ := os.ReadFile(\"/etc/motd\"); fmt.Print(string(b), nonce != \"\", \"\\n\")",
    );
    for arch in ["amd64", "arm64"] {
        let out = d.path().join(format!("out-{arch}"));
        let image = d.path().join(format!("root-{arch}.tar"));
        let o = crossmatrix(&[
            "run",
            d.path().join("inimage.go").to_str().unwrap(),
            "--toolchain",
            "go1.27",
            "--target",
            &format!("linux/{arch}"),
            "--cgo",
            "0",
            "--rootfs",
            image.to_str().unwrap(),
            "--rootfs",
            "scratch",
            "--reps",
            "0",
            "--cache-dir",
            shared_cache().to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "scratch lacks the zone");
        let recs = records(&out);
        let img = recs
            .iter()
            .find(|r| {
                r["id"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("rootfs-image-root-{arch}"))
            })
            .unwrap_or_else(|| panic!("no image cell in {recs:#?}"));
        assert_eq!(img["status"], "pass", "{img:#}");
        assert_eq!(img["run"]["stdout_tail"], "layer two\ntrue");
        let digest = img["image"]["digest"].as_str().unwrap();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{img:#}"
        );
        assert_eq!(img["image"]["reference"], "test/probe-root:1");
        assert_eq!(
            img["image"]["platform"].as_str().unwrap().split('/').nth(1),
            Some(arch)
        );
        let scratch = recs.iter().find(|r| r["rootfs"] == "scratch").unwrap();
        assert_eq!(scratch["status"], "fail", "{scratch:#}");
    }
}
