import type { Logger } from 'pino';
import type { LimitsConfig } from '../config/types.js';
import { imageLimitsOf, inputThumbnail, prepareImage, type PreparedImage } from '../media/image.js';
import type { Detector } from '../detector/types.js';
import { AppError, fieldError } from '../errors.js';
import type { SharedClasses } from './shared.js';
import type { EnrollOptions, PixelShot } from './imprinter.js';
import { checkLabelCollision, validateLabel } from '../recognition/labels.js';
import type { ClassStore, ZoneResidual } from '../storage/classStore.js';
import { augment, AUGMENTATIONS, type Augmentation } from '../recognition/augment.js';
import type { Recognizer } from './recognizer.js';
import { afterEnrollment, beforeEnrollment, type ReportUnits } from './enrollmentReport.js';
import type { EnrollResult, EnrollWarning, NewShot, UnitRef } from '../recognition/types.js';
import { decodePhoto, rasterToInput } from '../media/crops.js';
import { cutOutObject, photoObject, salientObject } from '../recognition/photoObject.js';
import type { ObjectView, Raster } from '../recognition/foreground.js';
import type { SalientModel } from './salientModel.js';
import { isCutSource } from '../recognition/regions.js';

export interface EnrollmentDeps {
  detector: Detector;
  modelId: () => string;
  store: ClassStore;
  recognizer: Recognizer;
  limits: LimitsConfig;
  logger: Logger;
  /** This node's id: the origin of the classes it creates. */
  nodeId?: string;
  /** Why a label cannot name a class here (a zone takes it), or null. */
  labelClash?: (label: string) => string | null;
  shared?: SharedClasses;
  onEnroll?: (shots: number) => void;
  /** The classes changed: reload and tell everyone. */
  changed: () => void;
  /** Every class's label (with gallery.sync: the fleet's): a new one may not share their entity id. */
  labels?: () => string[];
  /** The camera units configured, for the answer's `recognised_in` (absent: none). */
  units?: ReportUnits['units'];
  unitClasses?: ReportUnits['unitClasses'];
  /** Finds the object in enrolled photos (absent: the border search alone). */
  salient?: Pick<SalientModel, 'saliency'>;
}

/** Photos are searched for their object at this size (longer side, pixels). */
const PHOTO_OBJECT_SIDE = 320;

/** The warning for photos none of which shows an object apart from its place (a close-up fills them). */
function noObjectIn(images: number): EnrollWarning {
  const which = images === 1 ? 'the picture' : `any of the ${images} pictures`;
  return {
    code: 'no_object_in_photo',
    message: `no object stands out in ${which}: cameras match this class with the whole picture, which works when the object fills their view; for objects that walk into view, send the photo with its background removed (a transparent PNG, as a phone's "lift subject" gives), a photo that shows some of the place around the object, or draw a box on the camera`,
  };
}

/** Learns classes from photos and camera frames: one store transaction per enrollment. */
export class Enrollment {
  constructor(private readonly deps: EnrollmentDeps) {}

  async enrollImages(label: string, images: Buffer[], opts: EnrollOptions): Promise<EnrollResult> {
    const valid = this.checkNewLabel(label);
    if (images.length === 0) throw new AppError('bad_request', 'images: at least one image is needed', 'images');
    // Decode everything first: one bad image rejects the request before anything is stored.
    const prepared: PreparedImage[] = [];
    const limits = imageLimitsOf(this.deps.limits);
    for (const [i, image] of images.entries()) {
      opts.signal?.throwIfAborted();
      const field = opts.names?.[i] ?? (images.length > 1 ? `images[${i}]` : 'image');
      prepared.push(await prepareImage(image, this.deps.detector.inputSize, limits, field));
    }
    const shots: NewShot[] = [];
    // Pictures already cut out of a camera's view (enrollPictures), and background classes, have no object to find.
    const findObjects = !opts.background && !isCutSource(opts.source);
    for (const [i, p] of prepared.entries()) {
      opts.signal?.throwIfAborted();
      const embedding = await this.deps.detector.embed(p.rgb);
      const object = findObjects ? await this.objectOf(images[i]!) : null;
      shots.push({ embedding, thumbnail: p.thumbnail, source: opts.source, ...(object ? { object } : {}) });
    }
    const notes = findObjects && !shots.some((s) => s.object) ? [...(opts.notes ?? []), noObjectIn(images.length)] : opts.notes;
    return this.store(valid, shots, { ...opts, ...(notes ? { notes } : {}) });
  }

  /**
   * The embedding of the object of a checked photo (decoded small: finding it needs no
   * detail): what its sender cut out when it has transparent pixels, else what the
   * salient-object model (without it, the border search) finds; null when none is found.
   */
  private async objectOf(image: Buffer): Promise<Float32Array | null> {
    const { raster, alpha } = await decodePhoto(image, PHOTO_OBJECT_SIDE);
    const cutOut = alpha ? cutOutObject(raster, alpha) : null;
    const found = cutOut ?? (await this.searched(raster));
    return found ? this.deps.detector.embed(await rasterToInput(found.square, this.deps.detector.inputSize)) : null;
  }

  /**
   * The object the salient-object model finds; without the model, the border search's. When
   * the model finds nothing (a defocused or plain picture) it is trusted: the border search
   * would make an object of the place's rarest colours.
   */
  private async searched(photo: Raster): Promise<ObjectView | null> {
    const saliency = await this.deps.salient?.saliency(photo).catch((err: unknown) => {
      this.deps.logger.warn({ err }, 'salient-object model failed on a photo: searched by colour');
      return null;
    });
    return saliency ? salientObject(photo, saliency) : photoObject(photo);
  }

  /**
   * Live frames. With `opts.unit` each shot also keeps its residual against the unit's learned
   * scene (of the unit's own frame for a box, `unitRgb`), so the unit recognises the class
   * against its own scene; with `opts.sceneRgb` also the residuals of six augmentations of
   * the shot against the same augmentations of the scene.
   */
  async enrollPixels(label: string, frames: PixelShot[], opts: EnrollOptions): Promise<EnrollResult> {
    const valid = this.checkNewLabel(label);
    if (frames.length === 0) throw new AppError('bad_request', 'frames: at least one frame is needed', 'frames');
    const sceneLooks = opts.unit && opts.sceneRgb ? await this.augmentedLooks(opts.sceneRgb, opts.signal) : null;
    const shots: NewShot[] = [];
    const units: ZoneResidual[][] = [];
    for (const frame of frames) {
      opts.signal?.throwIfAborted();
      const thumbnail = await inputThumbnail(frame.rgb, this.deps.detector.inputSize);
      const embedding = await this.deps.detector.embed(frame.rgb);
      shots.push({ embedding, thumbnail, source: opts.source });
      if (!opts.unit) units.push([]);
      else if (!frame.unitRgb) units.push(await this.unitResiduals(opts.unit, frame.rgb, embedding, sceneLooks, opts.signal));
      else units.push(await this.unitResiduals(opts.unit, frame.unitRgb, await this.deps.detector.embed(frame.unitRgb), sceneLooks, opts.signal));
    }
    if (opts.unit && units.every((u) => u.length === 0)) {
      this.deps.logger.warn({ camera: opts.unit.camera, zone: opts.unit.zone }, 'this camera unit has not learned its empty scene yet: the class is recognised there by its look only');
    }
    return this.store(valid, shots, { ...opts, units });
  }

  /**
   * A label a new class may take (the label rules, no zone's name, no other class's entity
   * id; `self`: a rename's source); throws AppError naming `field`.
   */
  checkNewLabel(label: string, field = 'label', self?: string): string {
    const valid = validateLabel(label, field);
    const clash = this.deps.labelClash?.(valid);
    if (clash) throw fieldError('bad_label', field, clash);
    checkLabelCollision(valid, this.deps.labels?.() ?? [], field, self);
    return valid;
  }

  /** The shot's residual in its unit, then its augmentations' against the augmented scene. */
  private async unitResiduals(
    unit: UnitRef,
    rgb: Uint8Array,
    embedding: Float32Array,
    sceneLooks: Map<Augmentation, Float32Array> | null,
    signal?: AbortSignal,
  ): Promise<ZoneResidual[]> {
    const residual = this.deps.recognizer.residualFor(unit, embedding);
    if (!residual) return [];
    const out: ZoneResidual[] = [{ ...unit, residual, augmentation: '' }];
    if (!sceneLooks) return out;
    const { width, height } = this.deps.detector.inputSize;
    for (const [kind, scene] of sceneLooks) {
      signal?.throwIfAborted();
      const look = await this.deps.detector.embed(augment(rgb, width, height, kind));
      out.push({ ...unit, residual: this.deps.recognizer.residualAgainst(look, scene), augmentation: kind });
    }
    return out;
  }

  /** The unit's empty scene under each augmentation, embedded once per enrollment. */
  private async augmentedLooks(sceneRgb: Uint8Array, signal?: AbortSignal): Promise<Map<Augmentation, Float32Array>> {
    const { width, height } = this.deps.detector.inputSize;
    const looks = new Map<Augmentation, Float32Array>();
    for (const kind of AUGMENTATIONS) {
      signal?.throwIfAborted();
      looks.set(kind, await this.deps.detector.embed(augment(sceneRgb, width, height, kind)));
    }
    return looks;
  }

  /** One transaction; a request cancelled (deadline, shutdown) before it stores nothing. */
  private store(label: string, shots: NewShot[], opts: EnrollOptions & { units?: ZoneResidual[][] }): EnrollResult {
    opts.signal?.throwIfAborted();
    const { background } = opts;
    // The recognizer before the new shots: what they look like to it, the thresholds they may raise.
    const before = beforeEnrollment(this.deps.recognizer, label, shots.map((s) => s.embedding), opts.unit);
    const storeOpts = {
      model: this.deps.modelId(),
      ...(background === undefined ? {} : { background }),
      ...(this.deps.nodeId ? { origin: this.deps.nodeId } : {}),
      ...(opts.units ? { units: opts.units } : {}),
    };
    const result = this.deps.store.addShots(label, shots, storeOpts);
    // An explicit background flag is a settings change the fleet must hear of (a class new here adopts the fleet's otherwise).
    if (this.deps.shared && background !== undefined) {
      this.deps.shared.refresh();
      this.deps.shared.setClass(label, { background });
    }
    this.deps.onEnroll?.(shots.length);
    this.deps.changed();
    this.deps.logger.info({ label, added: result.added, shots: result.shots }, 'class enrolled');
    const units = { units: this.deps.units ?? (() => []), ...(this.deps.unitClasses ? { unitClasses: this.deps.unitClasses } : {}) };
    const after = afterEnrollment(this.deps.recognizer, label, before, units);
    const warning = [...(opts.notes ?? []), ...(after.warning ?? [])];
    return { ...result, ...after, ...(warning.length > 0 ? { warning } : {}) };
  }
}
