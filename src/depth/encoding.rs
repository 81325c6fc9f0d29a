//! How a depth PNG's stored integers become metres.

use serde::{Deserialize, Serialize};

/// How a depth PNG's integers map to metres. 0 always means "no measurement".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepthEncoding {
    /// The seed's rule: divide by 256 only when the map's maximum exceeds 255.
    #[default]
    Auto,
    /// Always metres × 256 (KITTI).
    Kitti,
    /// Millimetres (/1000).
    Millimetres,
    /// The stored value is metres (8-bit maps).
    #[serde(rename = "metres-8bit")]
    Metres8bit,
}

impl DepthEncoding {
    pub const ALL: [DepthEncoding; 4] = [
        DepthEncoding::Auto,
        DepthEncoding::Kitti,
        DepthEncoding::Millimetres,
        DepthEncoding::Metres8bit,
    ];

    /// What stored values are divided by to get metres, given the map's maximum.
    pub fn divisor(self, max_raw: u16) -> f64 {
        match self {
            DepthEncoding::Auto if max_raw > 255 => 256.0,
            DepthEncoding::Auto => 1.0,
            DepthEncoding::Kitti => 256.0,
            DepthEncoding::Millimetres => 1000.0,
            DepthEncoding::Metres8bit => 1.0,
        }
    }

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            DepthEncoding::Auto => "auto",
            DepthEncoding::Kitti => "kitti",
            DepthEncoding::Millimetres => "millimetres",
            DepthEncoding::Metres8bit => "metres-8bit",
        }
    }

    /// A one-line explanation for settings panels and help.
    pub fn describe(self) -> &'static str {
        match self {
            DepthEncoding::Auto => "metres × 256 when the map's max > 255, else metres (seed rule)",
            DepthEncoding::Kitti => "metres × 256 (KITTI)",
            DepthEncoding::Millimetres => "millimetres",
            DepthEncoding::Metres8bit => "metres as stored (8-bit maps)",
        }
    }
}

impl std::fmt::Display for DepthEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DepthEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown depth encoding {s:?}; use auto, kitti, millimetres or metres-8bit")
            })
    }
}
