//! The metadata columns the app shows, sorts and filters by.

use crate::metadata::SampleMeta;

/// A numeric statistic of a sample: the metadata's one list.
pub use crate::metadata::Stat;

/// A table column: the text columns, then every statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Column {
    DatasetRoot,
    Filename,
    DepthVariant,
    SceneType,
    Stat(Stat),
    ImagePath,
    DepthPath,
}

impl Column {
    pub fn all() -> Vec<Column> {
        let mut v = vec![
            Column::DatasetRoot,
            Column::Filename,
            Column::DepthVariant,
            Column::SceneType,
        ];
        v.extend(Stat::ALL.iter().map(|&s| Column::Stat(s)));
        v.push(Column::ImagePath);
        v.push(Column::DepthPath);
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            Column::DatasetRoot => "dataset_root",
            Column::Filename => "filename",
            Column::DepthVariant => "depth_variant",
            Column::SceneType => "scene_type",
            Column::Stat(s) => s.name(),
            Column::ImagePath => "image_path",
            Column::DepthPath => "depth_path",
        }
    }

    /// The cell's text.
    pub fn text(self, r: &SampleMeta) -> String {
        match self {
            Column::DatasetRoot => r.dataset_root.clone(),
            Column::Filename => r.filename.clone(),
            Column::DepthVariant => r.depth_variant.clone(),
            Column::SceneType => r.scene_type.clone(),
            Column::ImagePath => r.image_path.clone(),
            Column::DepthPath => r.depth_path.clone(),
            Column::Stat(s) => match s {
                Stat::Width | Stat::Height | Stat::ValidPixels | Stat::TotalPixels => {
                    format!("{}", s.value(r) as u64)
                }
                Stat::ValidRatio => format!("{:.3}", s.value(r)),
                _ => format!("{:.3}", s.value(r)),
            },
        }
    }

    /// Orders two rows by this column (numbers numerically, text by text,
    /// ties by sample identity so the order is stable).
    pub fn cmp(self, a: &SampleMeta, b: &SampleMeta) -> std::cmp::Ordering {
        let primary = match self {
            Column::DatasetRoot => a.dataset_root.cmp(&b.dataset_root),
            Column::Filename => a.filename.cmp(&b.filename),
            Column::DepthVariant => a.depth_variant.cmp(&b.depth_variant),
            Column::SceneType => a.scene_type.cmp(&b.scene_type),
            Column::ImagePath => a.image_path.cmp(&b.image_path),
            Column::DepthPath => a.depth_path.cmp(&b.depth_path),
            Column::Stat(s) => s.value(a).total_cmp(&s.value(b)),
        };
        primary
            .then_with(|| a.dataset_root.cmp(&b.dataset_root))
            .then_with(|| a.filename.cmp(&b.filename))
    }
}
