//! Thumbnails for the grid: decoded off the UI thread at display size, kept
//! in an on-disk cache (keyed by path, size, modification time and thumbnail
//! size), uploaded as textures only while their tile is on or near the
//! screen, and dropped once it has been far off-screen for a while.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use egui::{ColorImage, TextureHandle, TextureOptions};

use crate::fsutil;

/// What the grid can draw for one tile this frame.
pub enum Thumb {
    Ready(egui::TextureId, egui::Vec2),
    Loading,
    Failed(String),
}

type Decoded = (PathBuf, Result<ColorImage, String>);

struct Shared {
    /// Paths the UI wants now, most urgent first; replaced every frame, so
    /// tiles scrolled away are never decoded.
    wanted: Mutex<Vec<PathBuf>>,
    wake: Condvar,
    /// Paths a decoder has taken and not yet finished.
    taken: Mutex<HashSet<PathBuf>>,
    done: Mutex<Vec<Decoded>>,
    stop: AtomicBool,
    /// Thumbnails decoded from the image (not the disk cache).
    decoded: AtomicU64,
    cache_hits: AtomicU64,
    repaint: Mutex<Option<egui::Context>>,
}

struct Entry {
    tex: TextureHandle,
    last_used: u64,
}

/// Textures not drawn for this many frames are dropped.
const EVICT_AFTER_FRAMES: u64 = 90;
/// At most this many uploads per frame, so a fast scroll never stalls a frame.
const UPLOADS_PER_FRAME: usize = 48;

pub struct Thumbs {
    /// Thumbnail size in physical pixels (fit inside, aspect kept).
    size: [u32; 2],
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    textures: HashMap<PathBuf, Entry>,
    failed: HashMap<PathBuf, String>,
    /// Paths asked for this frame, in order, and as a set.
    wanted_now: Vec<PathBuf>,
    wanted_set: HashSet<PathBuf>,
    frame: u64,
    pub evicted: u64,
}

impl Thumbs {
    /// Starts the decoder threads; `cache_dir` is where thumbnails persist (None: memory only).
    pub fn new(size: [u32; 2], cache_dir: Option<PathBuf>) -> Self {
        let shared = Arc::new(Shared {
            wanted: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            taken: Mutex::new(HashSet::new()),
            done: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            decoded: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            repaint: Mutex::new(None),
        });
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4);
        let workers = (0..n)
            .map(|k| {
                let shared = shared.clone();
                let cache_dir = cache_dir.clone();
                std::thread::Builder::new()
                    .name(format!("calibscope-thumbs-{k}"))
                    .spawn(move || worker(&shared, size, cache_dir.as_deref()))
                    .expect("spawning a thread failed: the system is out of resources")
            })
            .collect();
        Self {
            size,
            shared,
            workers,
            textures: HashMap::new(),
            failed: HashMap::new(),
            wanted_now: Vec::new(),
            wanted_set: HashSet::new(),
            frame: 0,
            evicted: 0,
        }
    }

    pub fn size(&self) -> [u32; 2] {
        self.size
    }

    /// The tile's thumbnail, asking for it if it is not there yet.
    pub fn get(&mut self, path: &Path) -> Thumb {
        if let Some(e) = self.textures.get_mut(path) {
            e.last_used = self.frame;
            return Thumb::Ready(e.tex.id(), e.tex.size_vec2());
        }
        if let Some(msg) = self.failed.get(path) {
            return Thumb::Failed(msg.clone());
        }
        if self.wanted_set.insert(path.to_path_buf()) {
            self.wanted_now.push(path.to_path_buf());
        }
        Thumb::Loading
    }

    /// Marks a tile as near the screen (prefetch) without drawing it.
    pub fn prefetch(&mut self, path: &Path) {
        let _ = self.get(path);
    }

    /// Call once per frame after the grid: uploads finished thumbnails,
    /// hands the new wish list to the decoders, drops far-off textures.
    pub fn end_frame(&mut self, ctx: &egui::Context) {
        {
            let mut slot = self
                .shared
                .repaint
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(ctx.clone());
            }
        }
        let ready: Vec<Decoded> = {
            let mut done = self.shared.done.lock().unwrap_or_else(|e| e.into_inner());
            let n = done.len().min(UPLOADS_PER_FRAME);
            done.drain(..n).collect()
        };
        let more = !self
            .shared
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty();
        for (path, result) in ready {
            match result {
                Ok(img) => {
                    let tex = ctx.load_texture(path.to_string_lossy(), img, TextureOptions::LINEAR);
                    self.textures.insert(
                        path,
                        Entry {
                            tex,
                            last_used: self.frame,
                        },
                    );
                }
                Err(msg) => {
                    self.failed.insert(path, msg);
                }
            }
        }
        // The decoders' queue becomes exactly what is wanted now and not yet
        // there: tiles scrolled away drop out of it.
        let mut wanted = std::mem::take(&mut self.wanted_now);
        self.wanted_set.clear();
        // The queue stays locked from the check to the swap (lock order
        // wanted → taken → done, as the workers take them): a worker cannot
        // claim and finish a path in between, which would decode it twice.
        let had_queue = {
            let mut q = self.shared.wanted.lock().unwrap_or_else(|e| e.into_inner());
            let taken = self.shared.taken.lock().unwrap_or_else(|e| e.into_inner());
            let done = self.shared.done.lock().unwrap_or_else(|e| e.into_inner());
            let waiting: HashSet<&PathBuf> = done.iter().map(|(p, _)| p).collect();
            wanted.retain(|p| {
                !self.textures.contains_key(p)
                    && !self.failed.contains_key(p)
                    && !taken.contains(p)
                    && !waiting.contains(p)
            });
            let had = !q.is_empty();
            *q = wanted;
            had || !q.is_empty()
        };
        if had_queue {
            self.shared.wake.notify_all();
        }
        let frame = self.frame;
        let before = self.textures.len();
        self.textures
            .retain(|_, e| frame.saturating_sub(e.last_used) <= EVICT_AFTER_FRAMES);
        self.evicted += (before - self.textures.len()) as u64;
        self.frame += 1;
        if more || self.busy() {
            ctx.request_repaint();
        }
    }

    /// Textures held right now.
    pub fn texture_count(&self) -> usize {
        self.textures.len()
    }

    /// (decoded from images, served from the disk cache).
    pub fn counters(&self) -> (u64, u64) {
        (
            self.shared.decoded.load(Ordering::Relaxed),
            self.shared.cache_hits.load(Ordering::Relaxed),
        )
    }

    /// True while decoders still have work queued or results waiting.
    pub fn busy(&self) -> bool {
        let s = &self.shared;
        !s.wanted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
            || !s.taken.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
            || !s.done.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
    }

    /// Forgets failures (e.g. after the user fixed a file).
    pub fn clear_failures(&mut self) {
        self.failed.clear();
    }
}

impl Drop for Thumbs {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

fn worker(shared: &Shared, size: [u32; 2], cache_dir: Option<&Path>) {
    loop {
        let path = {
            let mut wanted = shared.wanted.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                if !wanted.is_empty() {
                    let p = wanted.remove(0);
                    shared
                        .taken
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(p.clone());
                    break p;
                }
                wanted = shared.wake.wait(wanted).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = load(shared, &path, size, cache_dir);
        // Publish the result before releasing the claim, so the UI never sees neither.
        shared
            .done
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.clone(), result));
        shared
            .taken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&path);
        if let Some(ctx) = shared
            .repaint
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            ctx.request_repaint();
        }
    }
}

/// Cache file of a thumbnail, or None when the source cannot be stat'ed.
pub fn cache_path(cache_dir: &Path, src: &Path, size: [u32; 2]) -> Option<PathBuf> {
    let meta = std::fs::metadata(src).ok()?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let key = format!(
        "{}|{}|{}|{}x{}",
        src.display(),
        meta.len(),
        mtime,
        size[0],
        size[1]
    );
    Some(cache_dir.join(format!("{:016x}.png", crate::hash::fnv1a(key.as_bytes()))))
}

fn load(
    shared: &Shared,
    path: &Path,
    size: [u32; 2],
    cache_dir: Option<&Path>,
) -> Result<ColorImage, String> {
    let cached = cache_dir.and_then(|d| cache_path(d, path, size));
    if let Some(c) = &cached {
        if let Ok(img) = image::open(c) {
            shared.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(to_color_image(img.to_rgba8()));
        }
    }
    let img = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let thumb = img.thumbnail(size[0], size[1]).to_rgba8();
    shared.decoded.fetch_add(1, Ordering::Relaxed);
    if let Some(c) = &cached {
        // A failed cache write only costs a re-decode next time.
        let mut bytes = Vec::new();
        if image::DynamicImage::ImageRgba8(thumb.clone())
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .is_ok()
        {
            let _ = fsutil::write_atomic(c, &bytes);
        }
    }
    Ok(to_color_image(thumb))
}

fn to_color_image(img: image::RgbaImage) -> ColorImage {
    let size = [img.width() as usize, img.height() as usize];
    ColorImage::from_rgba_unmultiplied(size, img.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_off_thread_then_hits_the_disk_cache() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a.png");
        image::RgbImage::from_pixel(64, 32, image::Rgb([200, 10, 10]))
            .save(&src)
            .unwrap();
        let cache = dir.path().join("cache");
        let ctx = egui::Context::default();
        for round in 0..2 {
            let mut t = Thumbs::new([16, 16], Some(cache.clone()));
            let mut ready = None;
            for _ in 0..2000 {
                let _ = ctx.run_ui(Default::default(), |_| {});
                if let Thumb::Ready(_, s) = t.get(&src) {
                    ready = Some(s);
                    break;
                }
                t.end_frame(&ctx);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            assert_eq!(ready, Some(egui::vec2(16.0, 8.0)));
            let (decoded, hits) = t.counters();
            if round == 0 {
                assert_eq!((decoded, hits), (1, 0));
            } else {
                assert_eq!((decoded, hits), (0, 1));
            }
        }
        // Far off-screen for long enough: the texture goes.
        let mut t = Thumbs::new([16, 16], Some(cache));
        for _ in 0..2000 {
            if matches!(t.get(&src), Thumb::Ready(..)) {
                break;
            }
            t.end_frame(&ctx);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        for _ in 0..=EVICT_AFTER_FRAMES + 1 {
            t.end_frame(&ctx);
        }
        assert_eq!(t.texture_count(), 0);
        assert_eq!(t.evicted, 1);
    }

    #[test]
    fn unreadable_image_is_a_failure_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("bad.png");
        std::fs::write(&src, b"not a png").unwrap();
        let ctx = egui::Context::default();
        let mut t = Thumbs::new([16, 16], None);
        for _ in 0..2000 {
            match t.get(&src) {
                Thumb::Failed(msg) => {
                    assert!(msg.contains("bad.png"), "{msg}");
                    return;
                }
                _ => t.end_frame(&ctx),
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("never failed");
    }
}
