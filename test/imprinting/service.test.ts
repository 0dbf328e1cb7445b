import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { AppError } from '../../src/errors.js';
import { image, tempDir } from '../helpers/env.js';
import { pngBomb } from '../helpers/pngBomb.js';
import { startImprinting, type StartedImprinting } from '../helpers/imprinting.js';

const read = (name: string): Buffer => readFileSync(image(name));
const OUTSIDERS = ['bird.jpg', 'owl.jpg', 'parrot.jpg', 'sunflower.jpg', 'dragonfly.jpg'];

describe("Coral's imprinting check through the service (real model, real photos)", () => {
  const dir = tempDir();
  let core: StartedImprinting;
  before(async () => {
    core = await startImprinting({ dataDir: dir.path });
    await core.imprinter.enrollImages('cat', [read('cat_train_0.jpg')], { source: 'test' });
    await core.imprinter.enrollImages('dog', [read('dog_train_0.jpg')], { source: 'test' });
    await core.imprinter.enrollImages('hotdog', [read('hotdog_train_0.jpg'), read('hotdog_train_1.jpg')], {
      source: 'test',
    });
  });
  after(async () => {
    await core.stop();
    dir.cleanup();
  });

  for (const [photo, expected] of [
    ['cat_test_0.jpg', 'cat'],
    ['dog_test_0.jpg', 'dog'],
    ['hotdog_test_0.jpg', 'hotdog'],
    ['cat.jpg', 'cat'],
    ['cat_720p.jpg', 'cat'],
  ] as const) {
    it(`${photo} comes out ${expected}`, async () => {
      const result = await core.imprinter.classifyImage(read(photo));
      assert.equal(result.label, expected, JSON.stringify(result));
      assert.deepEqual(Object.keys(result.scores).sort(), ['cat', 'dog', 'hotdog']);
    });
  }

  it('most photos of never-enrolled things come out unknown with the default threshold', async () => {
    const labels: Record<string, string> = {};
    for (const photo of OUTSIDERS) labels[photo] = (await core.imprinter.classifyImage(read(photo))).label;
    const unknown = Object.values(labels).filter((l) => l === 'unknown').length;
    console.log(`outsiders: ${unknown} of ${OUTSIDERS.length} unknown`, labels);
    assert.ok(unknown >= 4, JSON.stringify(labels));
  });

  it('stores the shots with the model they came from and a thumbnail', () => {
    const classes = core.imprinter.list();
    assert.deepEqual(
      classes.map((c) => [c.label, c.shots]),
      [
        ['cat', 1],
        ['dog', 1],
        ['hotdog', 2],
      ],
    );
    const shots = core.core.store.shots('hotdog');
    assert.equal(shots[0]?.model, core.core.detector.modelId());
    assert.equal(shots[0]?.thumbnail.subarray(0, 2).toString('hex'), 'ffd8');
  });

  it("keeps the object found in a photo beside its shot; says so when a picture shows none", async () => {
    const r = await core.imprinter.enrollImages('sunflower', [read('sunflower.jpg')], { source: 'test' });
    assert.equal(r.warning?.some((w) => w.code === 'no_object_in_photo') ?? false, false, JSON.stringify(r.warning));
    const plain = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 90, g: 120, b: 60 } } }).jpeg().toBuffer();
    const blank = await core.imprinter.enrollImages('lawn', [plain], { source: 'test' });
    assert.deepEqual(blank.warning?.map((w) => w.code), ['no_object_in_photo']);
    assert.match(blank.warning![0]!.message, /no object stands out in the picture/);
    const stored = new Map(core.core.store.shotEmbeddings().map((c) => [c.label, c]));
    const flower = stored.get('sunflower')!;
    assert.equal(flower.objects.length, 1);
    assert.equal(flower.objects[0]!.length, flower.shots[0]!.length);
    let dot = 0;
    for (let i = 0; i < flower.shots[0]!.length; i++) dot += flower.shots[0]![i]! * flower.objects[0]![i]!;
    assert.ok(dot < 0.999 * Math.hypot(...flower.shots[0]!) * Math.hypot(...flower.objects[0]!), 'the object is embedded apart from the whole photo');
    assert.equal(stored.get('lawn')!.objects.length, 0);
    core.imprinter.remove('sunflower');
    core.imprinter.remove('lawn');
  });

  it('takes the object of a cut-out photo (transparent background) exactly as its sender cut it out', async () => {
    // The same cat cut out as an ellipse; what lies under the transparent pixels differs
    // (a phone's "lift subject" leaves anything there): the object must not see it.
    const cutOut = async (under: string): Promise<Buffer> => {
      const rgb = await sharp(read('cat_test_0.jpg')).resize(320, 240, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      const hidden = await sharp(read(under)).resize(320, 240, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      const rgba = Buffer.alloc(320 * 240 * 4);
      for (let y = 0; y < 240; y++) {
        for (let x = 0; x < 320; x++) {
          const i = y * 320 + x;
          const inside = ((x - 160) / 90) ** 2 + ((y - 130) / 100) ** 2 <= 1;
          const src = inside ? rgb : hidden;
          rgba.set([src[i * 3]!, src[i * 3 + 1]!, src[i * 3 + 2]!, inside ? 255 : 0], i * 4);
        }
      }
      return sharp(rgba, { raw: { width: 320, height: 240, channels: 4 } }).png().toBuffer();
    };
    const a = await core.imprinter.enrollImages('cutout_a', [await cutOut('sunflower.jpg')], { source: 'test' });
    await core.imprinter.enrollImages('cutout_b', [await cutOut('owl.jpg')], { source: 'test' });
    assert.equal(a.warning?.some((w) => w.code === 'no_object_in_photo') ?? false, false, JSON.stringify(a.warning));
    const stored = new Map(core.core.store.shotEmbeddings().map((c) => [c.label, c]));
    const [oa, ob] = [stored.get('cutout_a')!.objects[0]!, stored.get('cutout_b')!.objects[0]!];
    let dot = 0;
    for (let i = 0; i < oa.length; i++) dot += oa[i]! * ob[i]!;
    assert.ok(dot / (Math.hypot(...oa) * Math.hypot(...ob)) > 0.999, `the same object whatever lies under the transparent pixels (cosine ${dot})`);
    core.imprinter.remove('cutout_a');
    core.imprinter.remove('cutout_b');
  });

  it('a background class maps to none and is never a label', async () => {
    await core.imprinter.enrollImages('wall', [read('sunflower.jpg')], { source: 'test', background: true });
    const result = await core.imprinter.classifyImage(read('sunflower.jpg'));
    assert.equal(result.label, 'none');
    core.imprinter.remove('wall');
  });
});

describe('bad input: clear errors, nothing stored', () => {
  const dir = tempDir();
  let core: StartedImprinting;
  before(async () => {
    core = await startImprinting({ dataDir: dir.path });
  });
  after(async () => {
    await core.stop();
    dir.cleanup();
  });

  async function rejects(images: Buffer[], code: string, pattern: RegExp, label = 'thing'): Promise<void> {
    await assert.rejects(core.imprinter.enrollImages(label, images, { source: 'test' }), (err: unknown) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, code);
      assert.match(err.message, pattern);
      return true;
    });
    assert.deepEqual(core.imprinter.list(), []);
  }

  it('not an image', () => rejects([Buffer.from('hello, not a picture')], 'bad_image', /^image: not an image/));
  it('an empty file', () => rejects([Buffer.alloc(0)], 'bad_image', /^image: empty/));
  it('a truncated JPEG', () => {
    const jpeg = read('cat_test_0.jpg');
    return rejects([jpeg.subarray(0, Math.floor(jpeg.length / 2))], 'bad_image', /truncated or corrupt/);
  });
  it('a 20000x20000 PNG bomb is refused before decoding', async () => {
    const bomb = await pngBomb(20000, 20000);
    assert.ok(bomb.length < 2_000_000, `bomb is ${bomb.length} bytes`);
    assert.equal((await sharp(bomb, { limitInputPixels: false }).metadata()).width, 20000);
    await rejects([bomb], 'too_large', /^image: 20000x20000 is 400\.0 megapixels, over the limit of 40/);
  });
  it('one bad image among good ones stores none of them', () =>
    rejects([read('cat_train_0.jpg'), Buffer.from('junk')], 'bad_image', /^images\[1\]: not an image/));
  for (const label of ['', 'unknown', 'none', ' cat', 'a/b', '../etc', 'x'.repeat(65), 'tab\there']) {
    it(`bad label ${JSON.stringify(label)}`, () => rejects([read('cat_train_0.jpg')], 'bad_label', /label/, label));
  }
});
