/**
 * The validated configuration every part receives, derived from the schema
 * (src/config/schema.ts) so that the types and the validation cannot disagree.
 */
import type { ConfigOf, MainSchema } from './schema.js';

export type { Roi } from './formats.js';

export type AppConfig = ConfigOf<MainSchema>;
export type MqttConfig = AppConfig['mqtt'];
export type TlsConfig = MqttConfig['tls'];
export type DetectorConfig = AppConfig['detector'];
export type DetectorType = DetectorConfig['type'];
export type ClassifierConfig = AppConfig['classifier'];
export type LimitsConfig = AppConfig['limits'];
export type CameraConfig = AppConfig['cameras'][string];
export type ZoneConfig = CameraConfig['zones'][string];
export type HttpConfig = AppConfig['http'];
export type LogConfig = AppConfig['log'];
export type GalleryConfig = AppConfig['gallery'];
