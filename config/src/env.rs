//! `QUIRE__SECTION__KEY=value` overrides one key. The value is read as a TOML value when it
//! parses as one (`8080`, `true`, `["a"]`), otherwise as a plain string, so paths and URLs need
//! no quoting.

use toml::{Table, Value};

pub const PREFIX: &str = "QUIRE__";

/// Applies every `QUIRE__…` variable to `table`; returns the keys it set, for error messages.
pub fn apply_overrides(
    table: &mut Table,
    vars: impl Iterator<Item = (String, String)>,
    errors: &mut Vec<String>,
) {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        if path.iter().any(|p| p.is_empty()) {
            errors.push(format!("environment variable {name}: empty key segment"));
            continue;
        }
        if let Err(key) = set_path(table, &path, parse_value(&raw)) {
            errors.push(format!(
                "environment variable {name}: `{key}` is not a section"
            ));
        }
    }
}

/// Sets `path` in `table`, creating sections on the way; fails naming a key that is a value.
fn set_path(table: &mut Table, path: &[String], value: Value) -> Result<(), String> {
    match path {
        [] => Ok(()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => match table
            .entry(first.clone())
            .or_insert_with(|| Value::Table(Table::new()))
        {
            Value::Table(t) => set_path(t, rest, value),
            _ => Err(first.clone()),
        },
    }
}

fn parse_value(raw: &str) -> Value {
    match format!("v = {raw}").parse::<Table>() {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| Value::String(raw.into())),
        Err(_) => Value::String(raw.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_nested_keys_with_typed_values() {
        let mut t: Table = "[server]\nlisten = \"127.0.0.1:1\"\n".parse().unwrap();
        let mut errs = Vec::new();
        let vars = [
            (
                "QUIRE__SERVER__LISTEN".to_string(),
                "127.0.0.1:9".to_string(),
            ),
            ("QUIRE__DATA_DIR".to_string(), "/srv/quire data".to_string()),
            ("QUIRE__INTAKE__SETTLE_SECS".to_string(), "5".to_string()),
            ("OTHER".to_string(), "x".to_string()),
        ];
        apply_overrides(&mut t, vars.into_iter(), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(t["server"]["listen"].as_str(), Some("127.0.0.1:9"));
        assert_eq!(t["data_dir"].as_str(), Some("/srv/quire data"));
        assert_eq!(t["intake"]["settle_secs"].as_integer(), Some(5));
    }

    #[test]
    fn refuses_to_descend_into_a_scalar() {
        let mut t: Table = "data_dir = \"x\"\n".parse().unwrap();
        let mut errs = Vec::new();
        let vars = [("QUIRE__DATA_DIR__X".to_string(), "1".to_string())];
        apply_overrides(&mut t, vars.into_iter(), &mut errs);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("QUIRE__DATA_DIR__X"));
    }
}
