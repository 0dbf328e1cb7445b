/**
 * Default decision values of the imprinting classifier, calibrated on data by
 * `bench/accuracy.ts` (method and figures in docs/accuracy.md):
 *
 * - Open set on a real photo set (Tux Paint's photo stamps, 14 classes, 304 photos): in each
 *   of 120 seeded episodes half the classes are enrolled from 1, 3 or 5 shots and the other
 *   half never are; every held-out photo of an enrolled class should get its label, every
 *   photo of a never-enrolled class `unknown`. The grid threshold 0.30-0.95 (step 0.01) x
 *   margin 0-0.15 (step 0.005) is searched for the best balanced accuracy
 *   (known-correct rate + unknown-rejected rate) / 2.
 * - Restricted to values that pass Coral's imprinting check on the committed test photos
 *   (test/fixtures/images: cat, dog, hotdog enrolled from *_train_*; every *_test_* right,
 *   cat.jpg and cat_720p.jpg `cat`, at least 4 of bird/owl/parrot/sunflower/dragonfly
 *   `unknown`) even with the threshold 0.02 and the margin 0.01 off on either side, so
 *   Edge TPU or decoder differences cannot flip it.
 *
 * Result: 0.60 / 0.065, balanced accuracy 62.7 % on the open-set episodes (the unrestricted
 * optimum 0.67 / 0.04 reaches 62.9 % but rejects dog_test_0.jpg and cat.jpg); the Coral
 * check gives 3/3 tests right, both cats `cat`, 5/5 others `unknown`.
 */
export const DEFAULT_THRESHOLD = 0.6;
export const DEFAULT_MARGIN = 0.065;

/**
 * Threshold and margin of the same classifier when every embedding (shots and queries) is
 * centred by the shipped generic mean first (src/recognition/centring.ts,
 * models/*.mean.json): the same open-set calibration and Coral check on centred embeddings
 * give 0.40 / 0.005, balanced accuracy 64.5 % instead of 62.7 % (3/3 tests, both cats `cat`,
 * 5/5 others `unknown`). Centred cosines are lower than raw ones, so these values only apply
 * together with centring; DEFAULT_THRESHOLD / DEFAULT_MARGIN stay for raw embeddings.
 * On fixed cameras, zones decide with src/recognition/decision.ts instead (zoneDefaults.ts).
 */
export const DEFAULT_CENTRED_THRESHOLD = 0.4;
export const DEFAULT_CENTRED_MARGIN = 0.005;

/**
 * How much lower a camera frame of a class taught from photos may score than the photo
 * itself would (centred cosines). Measured with the fixture photos streamed as a camera
 * (H.264, yuv420p, ffmpeg's area scaling, letterboxed to 4:3) against classify of the files
 * (sharp, lanczos3, stretched), dog/cat/hotdog taught from one *_train_* photo each: the
 * embedding cosine camera vs file is 0.985-0.995 for the same aspect (0.005-0.02 lower
 * scores: codec and kernel) and 0.85-0.94 letterboxed; dog_test_0 drops 0.428 → 0.380,
 * cat_720p 0.485 → 0.452. The colour range plays no part (full-range scaling: identical).
 * The open-set photos (bird, owl, parrot, sunflower, dragonfly, pets) score at most 0.22
 * against those classes through the same camera path, so the bar stays 0.13 above them.
 * Only the photo fallback of camera units uses it; classify and zone-taught classes do not.
 */
export const DEFAULT_CAMERA_ALLOWANCE = 0.05;

/**
 * The least centred score a region of a camera frame needs to name a class cut out of camera
 * frames (box, snapshot and live-object shots), on top of the class's own threshold. Regions are cut out against the
 * unit's empty view (recognition/foreground.ts), so an object meets its box shot without the
 * places round either; a never-enrolled object of a kindred kind (an otter against a deer)
 * still reaches 0.38-0.51 there. Chosen on the paths bench's tuning clips
 * (EDGE_IMPRINT_PATHS_SET=tuning, bench/pathsProbe.ts: per frame, box shots): frames of the
 * enrolled objects score 0.55 (p5) / 0.56 (p10) / 0.68 (median), never-enrolled at most 0.51.
 */
export const DEFAULT_CROP_FLOOR = 0.52;

/**
 * A region scoring at least this for a crop class, the top class of its frame, comes near it
 * (Classification.near): 0.07 under DEFAULT_CROP_FLOOR. A thin object walking is cut out in
 * pieces from frame to frame, one frame reaching the floor and the next falling to 0.49 or
 * proposing no region at all, so three wins in five frames never come; frames near the class
 * count with a win of its own (pipeline/smoother.ts). Chosen on the paths bench's tuning
 * clips, the agent's logged decisions voted again (bench/voteReplay.ts): walks recalled photo
 * 22 → 23/24, box 22 → 23/24, zone 23 → 24/24, the small tuning set's photos 19 → 19/23, with
 * no start on an empty scene, a never-enrolled object or the wrong class; the same at 0.42
 * and 0.48 (docs/field-accuracy.md).
 */
export const NEAR_LEVEL = DEFAULT_CROP_FLOOR - 0.07;
