//! Capture profiles: Quire's few settings (source, resolution, colour mode, page size) mapped to
//! whatever a SANE backend calls them, plus options passed through as-is.
//!
//! The `generic` profile tries the common option names and values in turn, in the manner of
//! NAPS2; `scansnap-ix1500` names the options of the SANE `fujitsu` backend. Options a device
//! lacks are errors, except those a profile lists as optional ("where present"), which are
//! skipped with a note. Nothing is ever skipped silently. This module decides and applies; it
//! does not read pages.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::device::{Applied, Device};
use crate::error::ScanError;
use crate::option::{Constraint, OptionValue, Unit, ValueType};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Flatbed,
    Adf,
    AdfDuplex,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Flatbed => "flatbed",
            Self::Adf => "adf",
            Self::AdfDuplex => "adf-duplex",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColorMode {
    Color,
    Gray,
    Lineart,
}

impl fmt::Display for ColorMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Color => "color",
            Self::Gray => "gray",
            Self::Lineart => "lineart",
        })
    }
}

/// A paper size in millimetres: `a4`, `a5`, `letter`, `legal`, or `WIDTHxHEIGHT` such as `210x297`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PageSize {
    pub width_mm: f64,
    pub height_mm: f64,
}

impl TryFrom<String> for PageSize {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        let (w, h) = match text.to_ascii_lowercase().as_str() {
            "a4" => (210.0, 297.0),
            "a5" => (148.0, 210.0),
            "letter" => (215.9, 279.4),
            "legal" => (215.9, 355.6),
            other => {
                let parse = |s: &str| {
                    s.trim()
                        .trim_end_matches("mm")
                        .parse::<f64>()
                        .ok()
                        .filter(|x| *x > 0.0)
                };
                match other
                    .split_once('x')
                    .and_then(|(w, h)| Some((parse(w)?, parse(h)?)))
                {
                    Some(size) => size,
                    None => {
                        return Err(format!(
                            "page size `{text}`: expected a4, a5, letter, legal or WIDTHxHEIGHT in mm"
                        ));
                    }
                }
            }
        };
        Ok(Self {
            width_mm: w,
            height_mm: h,
        })
    }
}

impl From<PageSize> for String {
    fn from(p: PageSize) -> String {
        format!("{}x{}", p.width_mm, p.height_mm)
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Candidate SANE option names for each setting, tried in order; the first the device has wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct OptionNames {
    pub source: Vec<String>,
    pub resolution: Vec<String>,
    pub mode: Vec<String>,
    pub depth: Vec<String>,
    pub page_width: Vec<String>,
    pub page_height: Vec<String>,
    pub tl_x: Vec<String>,
    pub tl_y: Vec<String>,
    pub br_x: Vec<String>,
    pub br_y: Vec<String>,
}

impl Default for OptionNames {
    fn default() -> Self {
        Self {
            source: names(&["source", "scan-source", "doc-source", "adf-mode"]),
            resolution: names(&["resolution", "scan-resolution", "x-resolution"]),
            mode: names(&["mode", "scan-mode", "color-mode"]),
            depth: names(&["depth", "bit-depth"]),
            page_width: names(&["page-width", "paper-width"]),
            page_height: names(&["page-height", "paper-height"]),
            tl_x: names(&["tl-x"]),
            tl_y: names(&["tl-y"]),
            br_x: names(&["br-x"]),
            br_y: names(&["br-y"]),
        }
    }
}

/// Candidate device values for each source and colour mode, tried in order (case-insensitive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct ValueNames {
    pub flatbed: Vec<String>,
    pub adf: Vec<String>,
    pub adf_duplex: Vec<String>,
    pub color: Vec<String>,
    pub gray: Vec<String>,
    pub lineart: Vec<String>,
}

impl Default for ValueNames {
    fn default() -> Self {
        Self {
            flatbed: names(&["Flatbed", "FlatBed", "Normal", "Document Table"]),
            adf: names(&[
                "ADF",
                "ADF Front",
                "Automatic Document Feeder",
                "ADF Simplex",
                "Simplex",
                "Feeder",
            ]),
            adf_duplex: names(&[
                "ADF Duplex",
                "Duplex",
                "Automatic Document Feeder Duplex",
                "ADF Both",
            ]),
            color: names(&["Color", "Colour", "24bit Color", "Color24"]),
            gray: names(&["Gray", "Grayscale", "Grey", "Greyscale", "8bit Gray"]),
            lineart: names(&["Lineart", "Line Art", "Binary", "Black & White", "BW"]),
        }
    }
}

impl ValueNames {
    fn for_source(&self, s: Source) -> &[String] {
        match s {
            Source::Flatbed => &self.flatbed,
            Source::Adf => &self.adf,
            Source::AdfDuplex => &self.adf_duplex,
        }
    }

    fn for_mode(&self, m: ColorMode) -> &[String] {
        match m {
            ColorMode::Color => &self.color,
            ColorMode::Gray => &self.gray,
            ColorMode::Lineart => &self.lineart,
        }
    }
}

/// A named set of capture defaults and the backend's vocabulary for them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Profile {
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dpi: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ColorMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<PageSize>,
    /// Device options as `NAME=VALUE`, set as given; the scan fails if the device lacks one.
    pub options: Vec<String>,
    /// Device options as `NAME=VALUE`, set where the device has them; a note says when one is
    /// missing.
    pub optional_options: Vec<String>,
    pub names: OptionNames,
    pub values: ValueNames,
}

impl Profile {
    pub const GENERIC: &'static str = "generic";
    pub const SCANSNAP_IX1500: &'static str = "scansnap-ix1500";

    /// Common option names with fallbacks: works with most SANE backends.
    pub fn generic() -> Self {
        Self {
            description: "Any SANE scanner: common option names with fallbacks".into(),
            dpi: Some(300.0),
            mode: Some(ColorMode::Gray),
            ..Self::default()
        }
    }

    /// Fujitsu ScanSnap iX1500 through the SANE `fujitsu` backend: duplex feeder, A4, colour,
    /// with the backend's software deskew and crop where the installed backend has them.
    pub fn scansnap_ix1500() -> Self {
        Self {
            description: "Fujitsu ScanSnap iX1500 (SANE fujitsu backend): duplex ADF, A4, colour"
                .into(),
            source: Some(Source::AdfDuplex),
            dpi: Some(300.0),
            mode: Some(ColorMode::Color),
            page: Some(PageSize {
                width_mm: 210.0,
                height_mm: 297.0,
            }),
            options: Vec::new(),
            optional_options: names(&["swdeskew=yes", "swcrop=yes"]),
            names: OptionNames {
                source: names(&["source"]),
                resolution: names(&["resolution"]),
                mode: names(&["mode"]),
                ..OptionNames::default()
            },
            values: ValueNames {
                flatbed: Vec::new(),
                adf: names(&["ADF Front"]),
                adf_duplex: names(&["ADF Duplex"]),
                color: names(&["Color"]),
                gray: names(&["Gray"]),
                lineart: names(&["Lineart"]),
            },
        }
    }

    pub fn builtin(name: &str) -> Option<Self> {
        match name {
            Self::GENERIC => Some(Self::generic()),
            Self::SCANSNAP_IX1500 => Some(Self::scansnap_ix1500()),
            _ => None,
        }
    }
}

/// What to capture: the profile's defaults with the command line's choices on top.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub source: Option<Source>,
    pub dpi: Option<f64>,
    pub mode: Option<ColorMode>,
    pub page: Option<PageSize>,
    /// `--option NAME=VALUE`, applied last, in order.
    pub extra_options: Vec<(String, String)>,
}

/// Everything applying a profile did, for the technician to read.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub applied: Vec<Applied>,
    /// Fallbacks, roundings and optional options the device lacks.
    pub notes: Vec<String>,
    /// Whether the chosen source is a feeder (scan until empty) and duplex (fronts and backs).
    pub feeder: bool,
    pub duplex: bool,
    /// The resolution the device settled on, for the TIFF header.
    pub dpi: Option<f64>,
}

/// Applies `profile` overridden by `settings` to the device, in dependency order: source first
/// (it changes the page size limits), then mode, resolution, page size, then raw options.
pub fn apply(
    device: &mut Device<'_>,
    profile: &Profile,
    settings: &Settings,
) -> Result<ApplyReport, ScanError> {
    let mut report = ApplyReport::default();
    let n = &profile.names;

    if let Some(source) = settings.source.or(profile.source) {
        let name = pick_name(device, &n.source, &format!("source {source}"))?;
        let value = pick_value(
            device,
            &name,
            profile.values.for_source(source),
            &source.to_string(),
        )?;
        report.applied.push(device.set(&name, &value)?);
    }

    if let Some(mode) = settings.mode.or(profile.mode) {
        let name = pick_name(device, &n.mode, &format!("mode {mode}"))?;
        match pick_value(
            device,
            &name,
            profile.values.for_mode(mode),
            &mode.to_string(),
        ) {
            Ok(value) => report.applied.push(device.set(&name, &value)?),
            Err(err) if mode == ColorMode::Lineart => {
                // Backends without a lineart mode (the SANE test backend, many flatbeds) give
                // 1-bit scans as gray at depth 1.
                let gray = pick_value(
                    device,
                    &name,
                    profile.values.for_mode(ColorMode::Gray),
                    "gray",
                )
                .map_err(|_| err)?;
                report.applied.push(device.set(&name, &gray)?);
                let depth = pick_name(device, &n.depth, "lineart as 1-bit gray")?;
                report
                    .applied
                    .push(set_number(device, &depth, 1.0, false, &mut report.notes)?);
                report.notes.push(format!(
                    "no lineart mode: using {name}={gray} with {depth}=1"
                ));
            }
            Err(err) => return Err(err),
        }
    }

    if let Some(dpi) = settings.dpi.or(profile.dpi) {
        let name = pick_name(device, &n.resolution, &format!("resolution {dpi} dpi"))?;
        report
            .applied
            .push(set_number(device, &name, dpi, true, &mut report.notes)?);
    }

    if let Some(page) = settings.page.or(profile.page) {
        apply_page(device, n, page, &mut report)?;
    }

    for assignment in &profile.optional_options {
        let (name, value) = split_assignment(device, assignment)?;
        match device.option(name) {
            Some(o) if o.is_active() => report.applied.push(device.set_text(name, value)?),
            Some(_) => report.notes.push(format!(
                "optional option `{name}` is inactive on {}: not set",
                device.name()
            )),
            None => report.notes.push(format!(
                "optional option `{name}` not present on {}: not set",
                device.name()
            )),
        }
    }
    for assignment in &profile.options {
        let (name, value) = split_assignment(device, assignment)?;
        report.applied.push(device.set_text(name, value)?);
    }
    for (name, value) in &settings.extra_options {
        report.applied.push(device.set_text(name, value)?);
    }

    for a in &report.applied {
        if a.is_inexact() {
            report.notes.push(format!(
                "{} asked {} , device uses {}",
                a.option, a.requested, a.actual
            ));
        }
    }
    let source_now = n.source.iter().find_map(|name| match device.get(name) {
        Ok(OptionValue::String(s)) => Some(s.to_ascii_lowercase()),
        _ => None,
    });
    report.feeder = source_now.as_deref().is_some_and(|s| {
        ["adf", "feeder", "duplex", "document"]
            .iter()
            .any(|k| s.contains(k))
            && !s.contains("table")
    });
    report.duplex = source_now
        .as_deref()
        .is_some_and(|s| s.contains("duplex") || s.contains("both"));
    report.dpi = n.resolution.iter().find_map(|name| match device.get(name) {
        Ok(OptionValue::Int(v)) => Some(v as f64),
        Ok(OptionValue::Fixed(v)) => Some(v),
        _ => None,
    });
    Ok(report)
}

/// Splits a profile's `NAME=VALUE`.
pub(crate) fn split_assignment<'a>(
    device: &Device<'_>,
    text: &'a str,
) -> Result<(&'a str, &'a str), ScanError> {
    text.split_once('=')
        .map(|(n, v)| (n.trim(), v.trim()))
        .ok_or_else(|| ScanError::OptionValue {
            device: device.name().to_string(),
            option: text.to_string(),
            value: String::new(),
            reason: "a profile option must be written NAME=VALUE".into(),
        })
}

fn pick_name(
    device: &Device<'_>,
    candidates: &[String],
    purpose: &str,
) -> Result<String, ScanError> {
    candidates
        .iter()
        .find(|c| device.option(c).is_some())
        .cloned()
        .ok_or_else(|| {
            let available: Vec<&str> = device.options().iter().map(|o| o.name.as_str()).collect();
            ScanError::OptionMissing {
                device: device.name().to_string(),
                option: candidates.join(" / "),
                purpose: purpose.to_string(),
                available: available.join(", "),
            }
        })
}

fn pick_value(
    device: &Device<'_>,
    name: &str,
    candidates: &[String],
    wanted: &str,
) -> Result<OptionValue, ScanError> {
    let info = device.option(name).expect("picked by pick_name");
    let refuse = |reason: String| ScanError::OptionValue {
        device: device.name().to_string(),
        option: name.to_string(),
        value: wanted.to_string(),
        reason,
    };
    match &info.constraint {
        Constraint::Strings(list) => candidates
            .iter()
            .find_map(|c| list.iter().find(|v| v.eq_ignore_ascii_case(c)))
            .map(|v| OptionValue::String(v.clone()))
            .ok_or_else(|| {
                refuse(format!(
                    "none of [{}] is offered; the device offers: {}",
                    candidates.join(", "),
                    list.join(", ")
                ))
            }),
        _ => candidates
            .first()
            .map(|c| OptionValue::String(c.clone()))
            .ok_or_else(|| refuse("the profile names no value for it".into())),
    }
}

/// Sets a numeric option to the closest allowed value, noting when that differs.
fn set_number(
    device: &mut Device<'_>,
    name: &str,
    want: f64,
    nearest: bool,
    notes: &mut Vec<String>,
) -> Result<Applied, ScanError> {
    let info = device.option(name).expect("picked by pick_name").clone();
    if !matches!(info.value_type, ValueType::Int | ValueType::Fixed) {
        return device.set_text(name, &want.to_string());
    }
    let value = if nearest {
        info.nearest_number(want)
    } else {
        want
    };
    if (value - want).abs() > 1e-6 {
        notes.push(format!(
            "{name}: {want} is not offered ({}); using {value}",
            info.allowed()
        ));
    }
    device.set(name, &info.number_value(value))
}

fn apply_page(
    device: &mut Device<'_>,
    n: &OptionNames,
    page: PageSize,
    report: &mut ApplyReport,
) -> Result<(), ScanError> {
    let first = |device: &Device<'_>, list: &[String]| {
        list.iter().find(|c| device.option(c).is_some()).cloned()
    };
    let mut any = false;
    // Paper size first: on feeder scanners it bounds the scan area set next.
    for (list, want) in [
        (&n.page_width, page.width_mm),
        (&n.page_height, page.height_mm),
    ] {
        if let Some(name) = first(device, list)
            && device.option(&name).is_some_and(|o| o.is_active())
        {
            report
                .applied
                .push(set_mm(device, &name, want, &mut report.notes)?);
            any = true;
        }
    }
    for (list, want) in [
        (&n.tl_x, 0.0),
        (&n.tl_y, 0.0),
        (&n.br_x, page.width_mm),
        (&n.br_y, page.height_mm),
    ] {
        if let Some(name) = first(device, list) {
            report
                .applied
                .push(set_mm(device, &name, want, &mut report.notes)?);
            any = true;
        }
    }
    if !any {
        pick_name(
            device,
            &[n.page_width.clone(), n.br_x.clone()].concat(),
            "page size",
        )?;
    }
    Ok(())
}

fn set_mm(
    device: &mut Device<'_>,
    name: &str,
    want: f64,
    notes: &mut Vec<String>,
) -> Result<Applied, ScanError> {
    let info = device.option(name).expect("present").clone();
    if info.unit != Unit::Millimetre {
        return Err(ScanError::OptionValue {
            device: device.name().to_string(),
            option: name.to_string(),
            value: format!("{want}mm"),
            reason: format!(
                "the device measures it in `{}`, not millimetres",
                info.unit.suffix()
            ),
        });
    }
    let value = info.nearest_number(want);
    if (value - want).abs() > 0.5 {
        notes.push(format!(
            "{name}: {want} mm is outside {}; using {value} mm",
            info.allowed()
        ));
    }
    device.set(name, &info.number_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_parse_by_name_and_dimensions() {
        assert_eq!(
            PageSize::try_from("A4".to_string()).unwrap(),
            PageSize {
                width_mm: 210.0,
                height_mm: 297.0
            }
        );
        assert_eq!(
            PageSize::try_from("100x150".to_string()).unwrap(),
            PageSize {
                width_mm: 100.0,
                height_mm: 150.0
            }
        );
        assert!(PageSize::try_from("huge".to_string()).is_err());
    }
}
