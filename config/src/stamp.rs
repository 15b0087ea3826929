//! `[stamp]`: the cover sheet, notices, margin stamp, fonts and optional diagonal watermark of
//! delivered copies. Templates are checked while the file is read (an unknown placeholder is a
//! configuration error), so no separate validation call is needed. Font files are not opened
//! here; a missing font is reported when a copy is stamped.

use std::path::PathBuf;

use quire_watermark::{
    CoverRow, DEFAULT_NOTICE, DiagonalWatermark, FontSources, Scope, StampTexts, Template,
    WatermarkError,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RawStampConfig")]
pub struct StampConfig {
    pub font: PathBuf,
    pub fallback_fonts: Vec<PathBuf>,
    pub notice: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_notice: Option<String>,
    pub margin: String,
    pub margin_font_size: f32,
    pub cover_title: String,
    pub cover_subtitle: String,
    pub cover_rows: Vec<CoverRowConfig>,
    pub watermark: WatermarkConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoverRowConfig {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatermarkConfig {
    pub enabled: bool,
    pub text: String,
    pub opacity: f32,
}

impl Default for WatermarkConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            text: "{recipient} · {library} · {request}".into(),
            opacity: 0.12,
        }
    }
}

/// The section as written, before its templates are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStampConfig {
    font: PathBuf,
    fallback_fonts: Vec<PathBuf>,
    notice: String,
    long_notice: Option<String>,
    margin: String,
    margin_font_size: f32,
    cover_title: String,
    cover_subtitle: String,
    cover_rows: Vec<CoverRowConfig>,
    watermark: WatermarkConfig,
}

impl Default for RawStampConfig {
    fn default() -> Self {
        let stock = StampTexts::standard();
        Self {
            font: PathBuf::from("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
            fallback_fonts: vec![PathBuf::from(
                "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
            )],
            notice: DEFAULT_NOTICE.into(),
            long_notice: None,
            margin: stock.margin.source().into(),
            margin_font_size: stock.margin_font_size,
            cover_title: stock.cover_title.source().into(),
            cover_subtitle: stock.cover_subtitle.source().into(),
            cover_rows: stock
                .cover_rows
                .iter()
                .map(|r| CoverRowConfig {
                    label: r.label.clone(),
                    value: r.value.source().into(),
                })
                .collect(),
            watermark: WatermarkConfig::default(),
        }
    }
}

impl Default for StampConfig {
    fn default() -> Self {
        Self::try_from(RawStampConfig::default()).expect("the stock [stamp] section is valid")
    }
}

impl TryFrom<RawStampConfig> for StampConfig {
    type Error = String;

    fn try_from(raw: RawStampConfig) -> Result<Self, String> {
        let config = Self {
            font: raw.font,
            fallback_fonts: raw.fallback_fonts,
            notice: raw.notice,
            long_notice: raw.long_notice,
            margin: raw.margin,
            margin_font_size: raw.margin_font_size,
            cover_title: raw.cover_title,
            cover_subtitle: raw.cover_subtitle,
            cover_rows: raw.cover_rows,
            watermark: raw.watermark,
        };
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems.join("; "))
        }
    }
}

impl StampConfig {
    /// Everything wrong with the section, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut check = |key: &str, text: &str, scope: Scope| {
            if let Err(e) = Template::parse(text, scope) {
                out.push(format!("{key}: {e}"));
            }
        };
        check("cover_title", &self.cover_title, Scope::Document);
        check("cover_subtitle", &self.cover_subtitle, Scope::Document);
        for (i, row) in self.cover_rows.iter().enumerate() {
            check(
                &format!("cover_rows[{i}] ({})", row.label),
                &row.value,
                Scope::Document,
            );
        }
        check("margin", &self.margin, Scope::Page);
        check("watermark.text", &self.watermark.text, Scope::Page);
        if !(self.margin_font_size >= 8.0 && self.margin_font_size <= 24.0) {
            out.push(format!(
                "margin_font_size: {} must be between 8 and 24 points",
                self.margin_font_size
            ));
        }
        if !(self.watermark.opacity > 0.0 && self.watermark.opacity <= 0.6) {
            out.push(format!(
                "watermark.opacity: {} must be above 0 and at most 0.6",
                self.watermark.opacity
            ));
        }
        if self.font.as_os_str().is_empty() {
            out.push("font: must name a TrueType font file".into());
        }
        if self.notice.trim().is_empty() {
            out.push(
                "notice: must not be empty; every delivered copy carries a copyright notice".into(),
            );
        }
        out
    }

    /// The wording for the watermark crate.
    pub fn texts(&self) -> Result<StampTexts, WatermarkError> {
        Ok(StampTexts {
            cover_title: Template::parse(&self.cover_title, Scope::Document)?,
            cover_subtitle: Template::parse(&self.cover_subtitle, Scope::Document)?,
            cover_rows: self
                .cover_rows
                .iter()
                .map(|r| {
                    Ok(CoverRow {
                        label: r.label.clone(),
                        value: Template::parse(&r.value, Scope::Document)?,
                    })
                })
                .collect::<Result<_, WatermarkError>>()?,
            notice: self.notice.clone(),
            long_notice: self.long_notice.clone().filter(|n| !n.trim().is_empty()),
            margin: Template::parse(&self.margin, Scope::Page)?,
            margin_font_size: self.margin_font_size,
        })
    }

    pub fn fonts(&self) -> FontSources {
        FontSources {
            primary: self.font.clone(),
            fallbacks: self.fallback_fonts.clone(),
        }
    }

    /// The diagonal watermark, when enabled.
    pub fn diagonal(&self) -> Result<Option<DiagonalWatermark>, WatermarkError> {
        if !self.watermark.enabled {
            return Ok(None);
        }
        Ok(Some(DiagonalWatermark {
            text: Template::parse(&self.watermark.text, Scope::Page)?,
            opacity: self.watermark.opacity,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StampConfig, String> {
        toml::from_str::<StampConfig>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn unknown_placeholder_is_a_config_error_naming_key_and_placeholder() {
        let err = parse("margin = \"Delivered to {recipent}\"").unwrap_err();
        assert!(
            err.contains("margin") && err.contains("{recipent}"),
            "{err}"
        );
        let err = parse("cover_rows = [ { label = \"Page\", value = \"{page}\" } ]").unwrap_err();
        assert!(err.contains("cover_rows[0]"), "{err}");
    }

    #[test]
    fn defaults_and_the_shipped_section_are_valid() {
        let config = StampConfig::default();
        assert!(config.problems().is_empty());
        assert!(config.texts().is_ok());
        let shipped: toml::Table = crate::EMBEDDED_DEFAULT.parse().unwrap();
        let section = shipped["stamp"].clone();
        let parsed: StampConfig = section.try_into().unwrap();
        assert_eq!(parsed.margin, config.margin);
        assert_eq!(parsed.cover_rows.len(), config.cover_rows.len());
    }

    #[test]
    fn the_commented_37_cfr_201_14_notice_is_valid_once_uncommented() {
        let text = crate::EMBEDDED_DEFAULT;
        let start = text
            .find("# long_notice = \"\"\"")
            .expect("the option is shipped");
        let block: String = text[start..]
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .or_else(|| l.strip_prefix("#"))
                    .unwrap_or(l)
            })
            .scan(0, |quotes, l| {
                // Stop after the closing triple quote.
                if *quotes >= 2 {
                    return None;
                }
                *quotes += l.matches("\"\"\"").count();
                Some(format!("{l}\n"))
            })
            .collect();
        let config = parse(&block).unwrap();
        let notice = config.texts().unwrap().long_notice.unwrap();
        let paragraphs: Vec<&str> = notice.split("\n\n").collect();
        assert_eq!(paragraphs.len(), 4, "{notice}");
        assert_eq!(
            paragraphs[0].trim(),
            "NOTICE WARNING CONCERNING COPYRIGHT RESTRICTIONS"
        );
        assert!(notice.contains(
            "\"used for any purpose other than private study,\nscholarship, or research.\""
        ));
    }

    #[test]
    fn out_of_range_values_are_refused() {
        assert!(
            parse("margin_font_size = 6.0")
                .unwrap_err()
                .contains("margin_font_size")
        );
        assert!(
            parse("[watermark]\nopacity = 1.0")
                .unwrap_err()
                .contains("opacity")
        );
        assert!(parse("surprise = 1").is_err());
    }
}
