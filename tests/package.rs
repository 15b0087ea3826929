//! The Debian package (`make deb`): its config, unit and `.deb` checked with Debian's own tools.
//!
//! `make deb` packages a release build, which takes long; these tests package the debug binary
//! under test instead, with the same `[package.metadata.deb]`, the same packaging/ files and
//! the same cargo-deb, so every `make test` checks the packaging without a second, release build
//! of the workspace. Only the compiler profile of `/usr/bin/quire` differs from the released
//! package.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quire_testkit::daemon::quire_command;

use crate::util::{QUIRE, describe, quire, stdout};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", describe(&out));
    out
}

/// Writes the packaged config with packaging/conffile, as `make deb` does.
fn packaged_config(out: &Path) {
    run(Command::new(repo().join("packaging/conffile")).arg(out));
}

/// `quire config show` of `config` (None: the embedded default) run in `cwd`, as TOML.
fn effective(config: Option<&Path>, cwd: &Path) -> toml::Table {
    let mut cmd = quire();
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let out = run(cmd.args(["config", "show"]).current_dir(cwd));
    stdout(&out).parse().expect("config show prints TOML")
}

/// Replaces `from` by `to` at the start of every string in `value`.
fn rebase(value: &mut toml::Value, from: &str, to: &str) {
    match value {
        toml::Value::String(s) => {
            if let Some(rest) = s.strip_prefix(from) {
                *s = format!("{to}{rest}");
            }
        }
        toml::Value::Array(a) => a.iter_mut().for_each(|v| rebase(v, from, to)),
        toml::Value::Table(t) => t.iter_mut().for_each(|(_, v)| rebase(v, from, to)),
        _ => {}
    }
}

/// The packaged config is the documented default in every key, except that what the default
/// keeps under `./var` the package keeps under /var/lib/quire.
#[test]
fn the_packaged_config_is_the_default_with_its_folders_under_var_lib_quire() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("quire.toml");
    packaged_config(&conf);

    let out = run(quire()
        .arg("--config")
        .arg(&conf)
        .args(["config", "check"])
        .current_dir(dir.path()));
    assert!(stdout(&out).contains("is valid"), "{}", describe(&out));

    let packaged = effective(Some(&conf), dir.path());
    assert_eq!(packaged["data_dir"].as_str(), Some("/var/lib/quire"));
    assert_eq!(
        packaged["intake"]["inbox"].as_str(),
        Some("/var/lib/quire/inbox")
    );

    let mut default = toml::Value::Table(effective(None, dir.path()));
    let local = dir.path().join("var");
    rebase(&mut default, local.to_str().unwrap(), "/var/lib/quire");
    assert_eq!(toml::Value::Table(packaged), default);
}

/// The files of the package's data archive, as `./path` lines.
fn contents(deb: &Path) -> BTreeSet<String> {
    let out = run(Command::new("dpkg-deb").arg("--fsys-tarfile").arg(deb));
    let mut tar = Command::new("tar")
        .arg("-t")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        tar.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    }
    let listed = tar.wait_with_output().unwrap();
    assert!(listed.status.success());
    stdout(&listed).lines().map(str::to_owned).collect()
}

/// Builds the `.deb` from the binary under test into `dir` and returns its path.
fn build_deb(dir: &Path) -> PathBuf {
    let cargo_deb = repo().join(".tools/bin/cargo-deb");
    assert!(
        cargo_deb.exists(),
        "cargo-deb is missing at {}: run scripts/bootstrap",
        cargo_deb.display()
    );
    // cargo-deb takes `target/release/` to mean "the target dir's profile folder": a scratch
    // target dir whose release/ holds the binary under test and the generated config.
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    let bin = target.join("release/quire");
    if std::fs::hard_link(QUIRE, &bin).is_err() {
        std::fs::copy(QUIRE, &bin).unwrap();
    }
    packaged_config(&target.join("release/deb/quire.toml"));
    let deb = dir.join("quire.deb");
    run(Command::new(cargo_deb)
        .args(["--no-build", "--fast", "--offline", "--output"])
        .arg(&deb)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(repo()));
    deb
}

/// The `.deb` passes lintian, installs into a throwaway root with a unit that
/// `systemd-analyze verify` accepts, and the installed binary runs with the installed config.
#[test]
fn the_deb_passes_lintian_and_its_installed_binary_checks_its_installed_config() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());

    // Errors fail; warnings and notes are printed by the assertion only if it fails.
    run(Command::new("lintian")
        .args(["--fail-on", "error", "--tag-display-limit", "0"])
        .arg(&deb));

    let files = contents(&deb);
    for f in [
        "./usr/bin/quire",
        "./etc/quire/quire.toml",
        "./usr/lib/systemd/system/quire.service",
    ] {
        assert!(files.contains(f), "{f} not in the package: {files:?}");
    }
    let field = |name: &str| {
        let out = run(Command::new("dpkg-deb").arg("--field").arg(&deb).arg(name));
        stdout(&out).trim().to_owned()
    };
    let depends = field("Depends");
    // From dpkg-shlibdeps ($auto) and from the list in Cargo.toml.
    for p in [
        "libtesseract",
        "libsane",
        "libjbig2dec",
        "tesseract-ocr-osd",
        "tzdata",
    ] {
        assert!(depends.contains(p), "Depends lacks {p}: {depends}");
    }
    let changelog = run(Command::new("dpkg-parsechangelog")
        .args(["--show-field", "Version", "--file"])
        .arg(repo().join("packaging/debian/changelog")));
    assert_eq!(
        stdout(&changelog).trim(),
        field("Version"),
        "packaging/debian/changelog needs an entry for this version"
    );
    assert!(field("Version").starts_with(env!("CARGO_PKG_VERSION")));

    let control = dir.path().join("control");
    run(Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(&control));
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/quire/quire.toml");
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "{postinst}");

    let root = dir.path().join("root");
    run(Command::new("dpkg-deb")
        .arg("--extract")
        .arg(&deb)
        .arg(&root));

    // `--root` makes systemd-analyze find ExecStart's /usr/bin/quire in the throwaway root;
    // that root has no sysinit.target and the like, so errors of the units quire.service pulls
    // in are not counted (`--recursive-errors=no`). Its own are: an unknown key, a bad value or
    // a missing ExecStart binary fails.
    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--recursive-errors=no"])
        .arg(format!("--root={}", root.display()))
        .arg("/usr/lib/systemd/system/quire.service"));
    assert!(
        out.stderr.is_empty(),
        "systemd-analyze verify warned:\n{}",
        describe(&out)
    );

    // The hardening, scored by systemd itself: an exposure of at most 2.0 ("OK") out of 10.
    // Dropping, say, ProtectSystem=strict or the system call filter takes it past that.
    let out = run(Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(format!("--root={}", root.display()))
        .arg("quire.service"));
    assert!(
        stdout(&out).contains("Overall exposure level for quire.service"),
        "{}",
        describe(&out)
    );

    let installed = root.join("usr/bin/quire");
    let out = run(quire_command(&installed).arg("--version"));
    assert_eq!(
        stdout(&out).trim(),
        format!("quire {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run(quire_command(&installed)
        .arg("--config")
        .arg(root.join("etc/quire/quire.toml"))
        .args(["config", "check"])
        .current_dir(dir.path()));
    assert!(stdout(&out).contains("is valid"), "{}", describe(&out));
}
