//! The synthetic 3-D worlds behind the demo dataset and their renderer.
//!
//! RGB and depth come from the same ray cast, so what a person (or a small
//! network) sees in the image is what the depth map measures: a ground plane
//! in perspective, boxes (walls, buildings, cars, crates) at known distances,
//! texture that shrinks and fades with distance, light fall-off indoors and
//! haze outdoors. The depth map is then sampled like a spinning LiDAR: a few
//! dozen scan lines, denser near the horizon, with drop-outs, no returns from
//! the sky or beyond the sensor's range.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The four kinds of place a demo sequence drives through; chosen so the
/// mean LiDAR depth lands in each of the selection bins
/// [0,3), [3,8), [8,15) and [15,100) metres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SceneKind {
    /// A small parking garage / hall: walls, ceiling and crates within metres.
    Garage,
    /// A narrow street with facades and parked cars a few metres away.
    Street,
    /// A wider suburban road with houses set back.
    Suburb,
    /// An open highway with distant buildings.
    Highway,
}

/// Surface look of a box.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    Building,
    Car,
    Concrete,
    Foliage,
    Crate,
}

#[derive(Debug, Clone)]
struct Block {
    min: [f32; 3],
    max: [f32; 3],
    colour: [f32; 3],
    style: Style,
}

/// One sequence's world: static geometry the camera drives through.
#[derive(Debug, Clone)]
pub struct World {
    pub kind: SceneKind,
    blocks: Vec<Block>,
    ceiling: Option<f32>,
    cam_h: f32,
    /// Metres travelled per frame along +z.
    speed: f32,
    /// Haze / light fall-off distance in metres.
    visibility: f32,
    road_half: f32,
    ground: [f32; 3],
    verge: [f32; 3],
}

fn rgb(r: f32, g: f32, b: f32) -> [f32; 3] {
    [r, g, b]
}

fn block(min: [f32; 3], max: [f32; 3], colour: [f32; 3], style: Style) -> Block {
    Block {
        min,
        max,
        colour,
        style,
    }
}

fn pick(rng: &mut ChaCha8Rng, colours: &[[f32; 3]]) -> [f32; 3] {
    let c = colours[rng.random_range(0..colours.len())];
    let j = rng.random_range(0.9f32..1.1);
    [c[0] * j, c[1] * j, c[2] * j]
}

const CAR_COLOURS: [[f32; 3]; 6] = [
    [0.75, 0.1, 0.1],
    [0.15, 0.25, 0.65],
    [0.85, 0.85, 0.85],
    [0.12, 0.12, 0.14],
    [0.6, 0.6, 0.62],
    [0.85, 0.6, 0.1],
];
const FACADE_COLOURS: [[f32; 3]; 5] = [
    [0.72, 0.55, 0.42],
    [0.8, 0.78, 0.7],
    [0.55, 0.35, 0.28],
    [0.65, 0.68, 0.72],
    [0.85, 0.75, 0.55],
];

impl World {
    /// Builds a world of `kind`, long enough for `frames` frames.
    pub fn new(kind: SceneKind, frames: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut blocks = Vec::new();
        let (speed, cam_h, ceiling, visibility, road_half, ground, verge);
        match kind {
            SceneKind::Garage => {
                // The camera creeps through a hall towards its end wall.
                // From about 4.5 m before the end wall to 1.5 m, however many frames.
                speed = (3.0 / frames.max(1) as f32).min(0.3);
                cam_h = 1.25;
                let ceil = rng.random_range(2.3f32..2.6);
                ceiling = Some(ceil);
                visibility = 9.0;
                road_half = 1.2;
                ground = rgb(0.5, 0.5, 0.48);
                verge = rgb(0.42, 0.42, 0.4);
                let half = rng.random_range(1.4f32..2.0);
                let end = 1.5 + speed * frames as f32;
                let wall = pick(&mut rng, &[[0.78, 0.76, 0.7], [0.6, 0.66, 0.72]]);
                blocks.push(block(
                    [-half - 0.3, 0.0, -5.0],
                    [-half, ceil, end],
                    wall,
                    Style::Concrete,
                ));
                blocks.push(block(
                    [half, 0.0, -5.0],
                    [half + 0.3, ceil, end],
                    wall,
                    Style::Concrete,
                ));
                blocks.push(block(
                    [-half - 0.3, 0.0, end],
                    [half + 0.3, ceil, end + 0.3],
                    wall,
                    Style::Concrete,
                ));
                let mut z = 1.5;
                while z < end - 1.0 {
                    let side = if rng.random_bool(0.5) { -1.0 } else { 1.0 };
                    let w = rng.random_range(0.5f32..1.1);
                    let h = rng.random_range(0.5f32..1.8);
                    let x0 = side * (half - 0.05) - if side > 0.0 { w } else { 0.0 };
                    let c = pick(
                        &mut rng,
                        &[[0.6, 0.45, 0.25], [0.3, 0.45, 0.6], [0.55, 0.55, 0.5]],
                    );
                    blocks.push(block([x0, 0.0, z], [x0 + w, h, z + w], c, Style::Crate));
                    z += rng.random_range(1.2f32..2.5);
                }
            }
            SceneKind::Street | SceneKind::Suburb | SceneKind::Highway => {
                let (setback, gap, bheight, car_p, far) = match kind {
                    SceneKind::Street => ((3.0f32, 4.5f32), 0.15, (6.0f32, 18.0f32), 0.8, 60.0),
                    SceneKind::Suburb => ((7.0, 11.0), 0.45, (4.0, 9.0), 0.35, 90.0),
                    _ => ((35.0, 70.0), 0.55, (8.0, 35.0), 0.1, 140.0),
                };
                speed = match kind {
                    SceneKind::Street => 0.8,
                    SceneKind::Suburb => 1.5,
                    _ => 3.0,
                };
                cam_h = if kind == SceneKind::Highway {
                    1.9
                } else {
                    1.55
                };
                ceiling = None;
                visibility = match kind {
                    SceneKind::Street => 90.0,
                    SceneKind::Suburb => 140.0,
                    _ => 220.0,
                };
                road_half = match kind {
                    SceneKind::Street => 3.5,
                    SceneKind::Suburb => 4.5,
                    _ => 9.0,
                };
                ground = rgb(0.36, 0.36, 0.38);
                verge = if kind == SceneKind::Street {
                    rgb(0.62, 0.6, 0.56)
                } else {
                    rgb(0.32, 0.5, 0.22)
                };
                let length = speed * frames as f32 + far + 40.0;
                for side in [-1.0f32, 1.0] {
                    let mut z = -10.0;
                    while z < length {
                        let len = rng.random_range(6.0f32..22.0);
                        if !rng.random_bool(gap) {
                            let near = rng.random_range(setback.0..setback.1);
                            let depth = rng.random_range(6.0f32..14.0);
                            let h = rng.random_range(bheight.0..bheight.1);
                            let (x0, x1) = if side < 0.0 {
                                (-near - depth, -near)
                            } else {
                                (near, near + depth)
                            };
                            let c = pick(&mut rng, &FACADE_COLOURS);
                            blocks.push(block([x0, 0.0, z], [x1, h, z + len], c, Style::Building));
                        } else if kind != SceneKind::Street {
                            // Trees fill the gaps between houses.
                            let x = side * rng.random_range(setback.0 * 0.6..setback.0);
                            let s = rng.random_range(1.5f32..3.0);
                            let c = pick(&mut rng, &[[0.2, 0.42, 0.15], [0.28, 0.5, 0.2]]);
                            blocks.push(block(
                                [x - s, 1.5, z + 2.0],
                                [x + s, 1.5 + 2.5 * s, z + 2.0 + 2.0 * s],
                                c,
                                Style::Foliage,
                            ));
                            blocks.push(block(
                                [x - 0.2, 0.0, z + 1.8 + s],
                                [x + 0.2, 1.6, z + 2.2 + s],
                                rgb(0.35, 0.25, 0.15),
                                Style::Concrete,
                            ));
                        }
                        z += len + rng.random_range(0.5f32..3.0);
                    }
                    // Parked cars along the kerb.
                    let mut z = 3.0;
                    while z < length {
                        if rng.random_bool(car_p) {
                            let x = side * (road_half - 1.0);
                            let c = pick(&mut rng, &CAR_COLOURS);
                            blocks.push(block(
                                [x - 0.9, 0.0, z],
                                [x + 0.9, 1.45, z + 4.3],
                                c,
                                Style::Car,
                            ));
                        }
                        z += rng.random_range(5.0f32..9.0);
                    }
                }
                // Traffic stopped in the neighbouring lane; the camera passes it.
                if kind != SceneKind::Suburb {
                    let mut z = rng.random_range(8.0f32..25.0);
                    while z < length {
                        let c = pick(&mut rng, &CAR_COLOURS);
                        let truck = rng.random_bool(0.3);
                        let (w, h, l) = if truck {
                            (2.4, 3.4, 8.0)
                        } else {
                            (1.8, 1.5, 4.4)
                        };
                        let x = -3.4;
                        blocks.push(block(
                            [x - w / 2.0, 0.0, z],
                            [x + w / 2.0, h, z + l],
                            c,
                            Style::Car,
                        ));
                        z += rng.random_range(40.0f32..90.0);
                    }
                }
            }
        }
        World {
            kind,
            blocks,
            ceiling,
            cam_h,
            speed,
            visibility,
            road_half,
            ground,
            verge,
        }
    }
}

/// A rendered frame: RGB (row-major, 3 bytes a pixel) and dense depth in
/// metres along the optical axis (`f32::INFINITY` where the ray sees sky).
pub struct Frame {
    pub rgb: Vec<u8>,
    pub depth: Vec<f32>,
}

struct Camera {
    x: f32,
    h: f32,
    z: f32,
    f: f32,
    cx: f32,
    cy: f32,
}

/// Deterministic hash noise in [0,1) for integer lattice points.
fn hash3(x: i32, y: i32, z: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x27d4_eb2d)
        ^ (y as u32).wrapping_mul(0x1656_67b1)
        ^ z.wrapping_mul(0x9e37_79b9);
    h ^= h >> 15;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise in [0,1).
fn vnoise(x: f32, y: f32, salt: u32) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (ix, iy) = (xf as i32, yf as i32);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = hash3(ix, iy, salt);
    let b = hash3(ix + 1, iy, salt);
    let c = hash3(ix, iy + 1, salt);
    let d = hash3(ix + 1, iy + 1, salt);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// How much of a pattern with period `period` metres survives at a pixel
/// footprint of `foot` metres: fine texture fades to its mean far away,
/// as a camera's optics would blur it.
fn detail(period: f32, foot: f32) -> f32 {
    ((period / foot - 2.0) / 4.0).clamp(0.0, 1.0)
}

/// A stripe of width `w` every `period` (1 inside the stripe).
fn stripe(x: f32, period: f32, w: f32) -> f32 {
    if (x.rem_euclid(period)) < w {
        1.0
    } else {
        0.0
    }
}

struct Hit {
    t: f32,
    /// Surface normal axis (0 = x, 1 = y, 2 = z) and sign.
    axis: usize,
    sign: f32,
    /// Index into blocks, or usize::MAX for ground, usize::MAX-1 for ceiling.
    what: usize,
}

const GROUND: usize = usize::MAX;
const CEILING: usize = usize::MAX - 1;

/// Renders frame `frame` of `world` at `width`×`height`.
pub fn render(world: &World, frame: usize, width: u32, height: u32, seed: u64) -> Frame {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (frame as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let (w, h) = (width as usize, height as usize);
    let f = 0.62 * width as f32;
    let cam = Camera {
        x: rng.random_range(-0.3f32..0.3),
        h: world.cam_h + rng.random_range(-0.05f32..0.05),
        z: world.speed * frame as f32,
        f,
        cx: width as f32 / 2.0,
        cy: height as f32 * 0.46 + rng.random_range(-0.015f32..0.015) * height as f32,
    };
    let salt = (seed as u32) ^ (frame as u32).wrapping_mul(7919);

    // Screen rectangles of the blocks, to test only those that can be hit.
    let near = 0.05f32;
    let rects: Vec<Option<[f32; 4]>> = world
        .blocks
        .iter()
        .map(|b| {
            let z0 = (b.min[2] - cam.z).max(near);
            let z1 = b.max[2] - cam.z;
            if z1 <= near {
                return None;
            }
            let mut r = [f32::MAX, f32::MIN, f32::MAX, f32::MIN];
            for z in [z0, z1] {
                for x in [b.min[0] - cam.x, b.max[0] - cam.x] {
                    for y in [b.min[1] - cam.h, b.max[1] - cam.h] {
                        let u = cam.cx + cam.f * x / z;
                        let v = cam.cy - cam.f * y / z;
                        r = [r[0].min(u), r[1].max(u), r[2].min(v), r[3].max(v)];
                    }
                }
            }
            if r[1] < 0.0 || r[0] > width as f32 || r[3] < 0.0 || r[2] > height as f32 {
                None
            } else {
                Some(r)
            }
        })
        .collect();

    let mut rgb = vec![0u8; w * h * 3];
    let mut depth = vec![f32::INFINITY; w * h];
    for v in 0..h {
        let pv = v as f32 + 0.5;
        let dy = (cam.cy - pv) / cam.f;
        let row_blocks: Vec<usize> = rects
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                r.filter(|r| pv >= r[2] - 1.0 && pv <= r[3] + 1.0)
                    .map(|_| i)
            })
            .collect();
        for u in 0..w {
            let pu = u as f32 + 0.5;
            let dx = (pu - cam.cx) / cam.f;
            let d = [dx, dy, 1.0f32];
            let o = [cam.x, cam.h, cam.z];
            let mut best: Option<Hit> = None;
            if dy < 0.0 {
                best = Some(Hit {
                    t: cam.h / -dy,
                    axis: 1,
                    sign: 1.0,
                    what: GROUND,
                });
            }
            if let (Some(c), true) = (world.ceiling, dy > 0.0) {
                let t = (c - cam.h) / dy;
                if best.as_ref().is_none_or(|b| t < b.t) {
                    best = Some(Hit {
                        t,
                        axis: 1,
                        sign: -1.0,
                        what: CEILING,
                    });
                }
            }
            for &i in &row_blocks {
                let r = rects[i].unwrap();
                if pu < r[0] - 1.0 || pu > r[1] + 1.0 {
                    continue;
                }
                if let Some((t, axis, sign)) = slab(&world.blocks[i], o, d) {
                    if best.as_ref().is_none_or(|b| t < b.t) {
                        best = Some(Hit {
                            t,
                            axis,
                            sign,
                            what: i,
                        });
                    }
                }
            }
            let colour = match &best {
                None => sky(world, dy),
                Some(hit) => {
                    depth[v * w + u] = hit.t;
                    let p = [
                        o[0] + d[0] * hit.t,
                        o[1] + d[1] * hit.t,
                        o[2] + d[2] * hit.t,
                    ];
                    shade(world, hit, p, hit.t / cam.f, salt)
                }
            };
            let grain = (hash3(u as i32, v as i32, salt) - 0.5) * 0.03;
            for c in 0..3 {
                rgb[(v * w + u) * 3 + c] =
                    ((colour[c] + grain).clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    Frame { rgb, depth }
}

/// Ray / axis-aligned box intersection: distance, normal axis and sign.
fn slab(b: &Block, o: [f32; 3], d: [f32; 3]) -> Option<(f32, usize, f32)> {
    let (mut tn, mut tf) = (f32::MIN, f32::MAX);
    let (mut axis, mut sign) = (2, -1.0);
    for i in 0..3 {
        if d[i].abs() < 1e-9 {
            if o[i] < b.min[i] || o[i] > b.max[i] {
                return None;
            }
            continue;
        }
        let t1 = (b.min[i] - o[i]) / d[i];
        let t2 = (b.max[i] - o[i]) / d[i];
        let (a, c, s) = if t1 < t2 {
            (t1, t2, -1.0)
        } else {
            (t2, t1, 1.0)
        };
        if a > tn {
            tn = a;
            axis = i;
            sign = s;
        }
        tf = tf.min(c);
    }
    (tn <= tf && tn > 0.05).then_some((tn, axis, sign))
}

fn sky(world: &World, dy: f32) -> [f32; 3] {
    let s = dy.clamp(0.0, 1.0);
    match world.kind {
        SceneKind::Garage => rgb(0.08, 0.08, 0.09),
        _ => rgb(0.78 - 0.45 * s, 0.85 - 0.35 * s, 0.95 - 0.1 * s),
    }
}

fn mix(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(a: [f32; 3], s: f32) -> [f32; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn shade(world: &World, hit: &Hit, p: [f32; 3], foot: f32, salt: u32) -> [f32; 3] {
    let indoor = world.ceiling.is_some();
    let coarse = vnoise(p[0] * 0.7 + p[1] * 0.3, p[2] * 0.7 + p[1] * 0.5, 11) - 0.5;
    let fine = (vnoise(
        p[0] * 6.0 + p[1] * 3.0,
        p[2] * 6.0 + p[1] * 5.0,
        salt & 0xff,
    ) - 0.5)
        * detail(0.17, foot);
    let mut base = match hit.what {
        GROUND => {
            let x = p[0];
            if x.abs() > world.road_half {
                let c = world.verge;
                scale(c, 1.0 + 0.25 * coarse + 0.25 * fine)
            } else {
                let mut c = scale(world.ground, 1.0 + 0.15 * coarse + 0.2 * fine);
                // Lane and bay markings, painted in world units.
                let line = if indoor {
                    stripe(p[2], 2.5, 0.12) * detail(2.5, foot)
                } else {
                    let dash = stripe(p[2], 6.0, 3.0);
                    let centre = if (x.abs() - 1.75).abs() < 0.08 {
                        dash
                    } else {
                        0.0
                    };
                    let edge = if (x.abs() - (world.road_half - 0.2)).abs() < 0.1 {
                        1.0
                    } else {
                        0.0
                    };
                    (centre + edge).min(1.0) * detail(0.4, foot)
                };
                c = mix(c, rgb(0.92, 0.9, 0.8), line * 0.85);
                c
            }
        }
        CEILING => {
            let panel = stripe(p[2], 4.0, 1.2) * stripe(p[0] + 0.6, 100.0, 1.2);
            mix(
                rgb(0.35, 0.35, 0.37),
                rgb(1.0, 0.98, 0.9),
                panel * detail(1.2, foot).max(0.5),
            )
        }
        i => {
            let b = &world.blocks[i];
            // Texture coordinates in the face's plane, in metres.
            let (s, t) = match hit.axis {
                0 => (p[2], p[1]),
                1 => (p[0], p[2]),
                _ => (p[0], p[1]),
            };
            match b.style {
                Style::Building => {
                    let win = stripe(s, 3.0, 1.3) * stripe(t - 0.9, 3.0, 1.6);
                    let c = scale(b.colour, 1.0 + 0.15 * coarse + 0.15 * fine);
                    mix(c, rgb(0.2, 0.25, 0.32), win * detail(3.0, foot) * 0.9)
                }
                Style::Car => {
                    let glass = if t - b.min[1] > (b.max[1] - b.min[1]) * 0.55 {
                        1.0
                    } else {
                        0.0
                    };
                    let wheel = if t - b.min[1] < 0.35 { 1.0 } else { 0.0 };
                    let c = mix(b.colour, rgb(0.1, 0.12, 0.15), glass * 0.8);
                    mix(c, rgb(0.05, 0.05, 0.05), wheel * 0.9)
                }
                Style::Concrete => scale(b.colour, 1.0 + 0.2 * coarse + 0.25 * fine),
                Style::Foliage => {
                    let leaf = vnoise(s * 4.0, t * 4.0, 5) - 0.5;
                    scale(
                        b.colour,
                        1.0 + 0.6 * leaf * detail(0.25, foot) + 0.2 * coarse,
                    )
                }
                Style::Crate => {
                    let slat = stripe(t, 0.25, 0.03) * detail(0.25, foot);
                    scale(b.colour, 1.0 - 0.35 * slat + 0.2 * fine)
                }
            }
        }
    };
    // Light: a sun outdoors, lamps with fall-off indoors.
    let n_dot = match (hit.axis, hit.sign > 0.0) {
        (1, true) => 1.0,
        (1, false) => 0.55,
        (0, _) => 0.65 + 0.15 * hit.sign,
        _ => 0.75,
    };
    if indoor {
        let fall = 1.25 / (1.0 + (hit.t / world.visibility).powi(2)) + 0.08;
        base = scale(base, n_dot * fall);
        mix(base, rgb(0.05, 0.05, 0.06), (hit.t / 30.0).min(0.6))
    } else {
        base = scale(base, 0.45 + 0.55 * n_dot);
        let haze = 1.0 - (-hit.t / world.visibility).exp();
        mix(base, rgb(0.75, 0.8, 0.88), haze)
    }
}

/// Samples a dense depth frame like a spinning LiDAR projected into the
/// camera: returns metres × 256 as u16, 0 where nothing was measured.
pub fn lidar(depth: &[f32], width: u32, height: u32, seed: u64, frame: usize) -> Vec<u16> {
    let (w, h) = (width as usize, height as usize);
    let f = 0.62 * width as f32;
    let cy = height as f32 * 0.46;
    let mut out = vec![0u16; w * h];
    let beams = ((h as f32) * 0.1).round().max(4.0) as usize;
    let top = 2f32.to_radians();
    let bottom = -((h as f32 - cy) / f).atan();
    let salt = (seed as u32).wrapping_add((frame as u32).wrapping_mul(104_729));
    for k in 0..beams {
        let s = k as f32 / (beams - 1) as f32;
        let elev = top - (top - bottom) * s.powf(1.15);
        let row = cy - f * elev.tan();
        for u in 0..w {
            // Scan lines bow slightly towards the image edges.
            let e = (u as f32 - w as f32 / 2.0) / (w as f32 / 2.0);
            let v = (row + e * e * h as f32 * 0.012).round();
            if v < 0.0 || v >= h as f32 {
                continue;
            }
            let i = v as usize * w + u;
            let z = depth[i];
            let roll = hash3(u as i32, k as i32, salt);
            if !z.is_finite() || z > 120.0 || roll < 0.08 {
                continue;
            }
            let noise = (hash3(u as i32 + 7, k as i32, salt) - 0.5) * 8.0;
            out[i] = (z * 256.0 + noise).round().clamp(1.0, 65535.0) as u16;
        }
    }
    out
}
