//! Device options: safe copies of SANE option descriptors, their values, and the parsing of a
//! technician's text (`resolution=300`, `source=ADF Duplex`) into a value the device accepts.
//!
//! It checks a value against the option's constraint before the device sees it, so that the
//! error names the allowed values; it does not talk to the device (see `device.rs`).

use std::ffi::CStr;
use std::fmt;

use crate::ffi;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Bool,
    Int,
    Fixed,
    String,
    Button,
    Group,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    None,
    Pixel,
    Bit,
    Millimetre,
    Dpi,
    Percent,
    Microsecond,
}

impl Unit {
    fn from_raw(raw: i32) -> Self {
        match raw {
            1 => Self::Pixel,
            2 => Self::Bit,
            3 => Self::Millimetre,
            4 => Self::Dpi,
            5 => Self::Percent,
            6 => Self::Microsecond,
            _ => Self::None,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Pixel => "px",
            Self::Bit => "bit",
            Self::Millimetre => "mm",
            Self::Dpi => "dpi",
            Self::Percent => "%",
            Self::Microsecond => "us",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    None,
    Range { min: f64, max: f64, quant: f64 },
    Numbers(Vec<f64>),
    Strings(Vec<String>),
}

/// One option as the device describes it. Numbers of FIXED options are already unscaled.
#[derive(Debug, Clone)]
pub struct OptionInfo {
    pub(crate) index: i32,
    pub name: String,
    pub title: String,
    pub description: String,
    pub value_type: ValueType,
    pub unit: Unit,
    /// Size in bytes of the value (for word types, 4 per element).
    pub size: i32,
    cap: i32,
    pub constraint: Constraint,
}

/// A scalar option value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Bool(bool),
    Int(i32),
    Fixed(f64),
    String(String),
    /// Setting a button presses it.
    Press,
}

impl fmt::Display for OptionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(b) => f.write_str(if *b { "yes" } else { "no" }),
            Self::Int(n) => write!(f, "{n}"),
            Self::Fixed(x) => write!(f, "{}", trim_float(*x)),
            Self::String(s) => f.write_str(s),
            Self::Press => f.write_str("(press)"),
        }
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn text(ptr: *const std::ffi::c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        // SAFETY: SANE hands out NUL-terminated strings valid while the descriptor is.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

impl OptionInfo {
    /// Copies a descriptor out of libsane's memory.
    ///
    /// # Safety
    /// `raw` must be a descriptor just returned by `sane_get_option_descriptor`.
    pub(crate) unsafe fn from_raw(index: i32, raw: &ffi::OptionDescriptor) -> Self {
        let value_type = match raw.value_type {
            ffi::TYPE_BOOL => ValueType::Bool,
            ffi::TYPE_INT => ValueType::Int,
            ffi::TYPE_FIXED => ValueType::Fixed,
            ffi::TYPE_STRING => ValueType::String,
            ffi::TYPE_BUTTON => ValueType::Button,
            _ => ValueType::Group,
        };
        let number = |w: ffi::Word| match value_type {
            ValueType::Fixed => w as f64 / ffi::FIXED_SCALE,
            _ => w as f64,
        };
        // SAFETY: the union member read is the one named by constraint_type, per the standard.
        let constraint = unsafe {
            match raw.constraint_type {
                ffi::CONSTRAINT_RANGE if !raw.constraint.range.is_null() => {
                    let r = &*raw.constraint.range;
                    Constraint::Range {
                        min: number(r.min),
                        max: number(r.max),
                        quant: number(r.quant),
                    }
                }
                ffi::CONSTRAINT_WORD_LIST if !raw.constraint.word_list.is_null() => {
                    let list = raw.constraint.word_list;
                    let len = (*list).max(0) as usize;
                    Constraint::Numbers((1..=len).map(|i| number(*list.add(i))).collect())
                }
                ffi::CONSTRAINT_STRING_LIST if !raw.constraint.string_list.is_null() => {
                    let mut out = Vec::new();
                    let mut p = raw.constraint.string_list;
                    while !(*p).is_null() {
                        out.push(text(*p));
                        p = p.add(1);
                    }
                    Constraint::Strings(out)
                }
                _ => Constraint::None,
            }
        };
        Self {
            index,
            name: text(raw.name),
            title: text(raw.title),
            description: text(raw.desc),
            value_type,
            unit: Unit::from_raw(raw.unit),
            size: raw.size,
            cap: raw.cap,
            constraint,
        }
    }

    pub fn is_active(&self) -> bool {
        self.cap & ffi::CAP_INACTIVE == 0
    }

    pub fn is_settable(&self) -> bool {
        self.cap & ffi::CAP_SOFT_SELECT != 0
    }

    pub fn is_advanced(&self) -> bool {
        self.cap & ffi::CAP_ADVANCED != 0
    }

    /// Word-typed options whose value is an array (gamma tables, ...).
    pub fn is_array(&self) -> bool {
        matches!(
            self.value_type,
            ValueType::Bool | ValueType::Int | ValueType::Fixed
        ) && self.size > 4
    }

    /// A one-line summary of allowed values, as `quire scan --list` prints it.
    pub fn allowed(&self) -> String {
        let unit = self.unit.suffix();
        match (&self.constraint, self.value_type) {
            (_, ValueType::Bool) => "yes|no".into(),
            (_, ValueType::Button) => "(button)".into(),
            (Constraint::Range { min, max, quant }, _) => {
                let step = if *quant > 0.0 {
                    format!(" step {}", trim_float(*quant))
                } else {
                    String::new()
                };
                format!("{}..{}{unit}{step}", trim_float(*min), trim_float(*max))
            }
            (Constraint::Numbers(list), _) => {
                let items: Vec<String> = list.iter().map(|x| trim_float(*x)).collect();
                format!("{}{unit}", items.join("|"))
            }
            (Constraint::Strings(list), _) => list.join("|"),
            (Constraint::None, ValueType::String) => "<text>".into(),
            (Constraint::None, _) => format!("<number>{unit}"),
        }
    }

    /// Turns text into a value this option accepts, or says why not.
    pub fn parse(&self, input: &str) -> Result<OptionValue, String> {
        let input = input.trim();
        match self.value_type {
            ValueType::Group => Err("it is a group heading, not a setting".into()),
            ValueType::Button => Ok(OptionValue::Press),
            ValueType::Bool => match input.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => Ok(OptionValue::Bool(true)),
                "no" | "false" | "off" | "0" => Ok(OptionValue::Bool(false)),
                _ => Err("expected yes or no".into()),
            },
            ValueType::String => match &self.constraint {
                Constraint::Strings(list) => list
                    .iter()
                    .find(|s| s.eq_ignore_ascii_case(input))
                    .map(|s| OptionValue::String(s.clone()))
                    .ok_or_else(|| format!("allowed: {}", list.join(", "))),
                _ => Ok(OptionValue::String(input.to_string())),
            },
            ValueType::Int | ValueType::Fixed => {
                let stripped = input.trim_end_matches(self.unit.suffix()).trim();
                let x: f64 = stripped
                    .parse()
                    .map_err(|_| format!("expected a number ({})", self.allowed()))?;
                self.check_number(x)?;
                Ok(self.number_value(x))
            }
        }
    }

    pub(crate) fn number_value(&self, x: f64) -> OptionValue {
        match self.value_type {
            ValueType::Fixed => OptionValue::Fixed(x),
            _ => OptionValue::Int(x.round() as i32),
        }
    }

    fn check_number(&self, x: f64) -> Result<(), String> {
        match &self.constraint {
            Constraint::Range { min, max, .. } if x < *min - 1e-6 || x > *max + 1e-6 => {
                Err(format!("out of range {}", self.allowed()))
            }
            Constraint::Numbers(list) if !list.iter().any(|v| (v - x).abs() < 1e-6) => {
                Err(format!("allowed: {}", self.allowed()))
            }
            _ => Ok(()),
        }
    }

    /// The allowed number closest to `x` (scanners with a fixed list of resolutions).
    pub fn nearest_number(&self, x: f64) -> f64 {
        match &self.constraint {
            Constraint::Range { min, max, quant } => {
                let clamped = x.clamp(*min, *max);
                if *quant > 0.0 {
                    min + ((clamped - min) / quant).round() * quant
                } else {
                    clamped
                }
            }
            Constraint::Numbers(list) => list
                .iter()
                .copied()
                .min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs()))
                .unwrap_or(x),
            _ => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(value_type: ValueType, constraint: Constraint) -> OptionInfo {
        OptionInfo {
            index: 1,
            name: "x".into(),
            title: String::new(),
            description: String::new(),
            value_type,
            unit: Unit::Dpi,
            size: 4,
            cap: ffi::CAP_SOFT_SELECT,
            constraint,
        }
    }

    #[test]
    fn strings_match_without_case_and_name_the_allowed_values() {
        let o = info(
            ValueType::String,
            Constraint::Strings(vec!["ADF Duplex".into(), "ADF Front".into()]),
        );
        assert_eq!(
            o.parse("adf duplex"),
            Ok(OptionValue::String("ADF Duplex".into()))
        );
        let err = o.parse("Flatbed").unwrap_err();
        assert!(err.contains("ADF Front"), "{err}");
    }

    #[test]
    fn numbers_are_checked_against_lists_and_ranges() {
        let list = info(
            ValueType::Int,
            Constraint::Numbers(vec![150.0, 300.0, 600.0]),
        );
        assert_eq!(list.parse("300dpi"), Ok(OptionValue::Int(300)));
        assert!(list.parse("250").is_err());
        assert_eq!(list.nearest_number(250.0), 300.0);
        let range = info(
            ValueType::Fixed,
            Constraint::Range {
                min: 1.0,
                max: 1200.0,
                quant: 1.0,
            },
        );
        assert_eq!(range.parse("75.5"), Ok(OptionValue::Fixed(75.5)));
        assert!(range.parse("2400").is_err());
        assert!(range.parse("many").is_err());
    }
}
