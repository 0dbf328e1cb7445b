/** Folder of the model files for the tests and benchmarks (see modelCache.mjs). */
export declare const MODEL_CACHE: string;
/** Installs them there with `edge-imprint models`; returns its output. */
export declare function installModelCache(): string;
