import { CoralDelegate, type CoralDevice } from 'coral-tflite-delegate';

/** An external TFLite delegate as TFLiteNodeModelRunner takes it. */
export interface DelegateSpec {
  path: string;
  options: Array<[string, string]>;
}

/**
 * The Edge TPU delegate for `detector.device` and `detector.edgetpu_library`, as
 * coral-tflite-delegate builds it: an empty library means the platform's libedgetpu name
 * (libedgetpu.so.1, libedgetpu.1.dylib, edgetpu.dll), an empty device the first Coral.
 * Pure: nothing is loaded here; the child probes the library before TFLite loads it.
 */
export function coralDelegate(device: string, library: string, platform: NodeJS.Platform = process.platform): DelegateSpec {
  // The configuration schema admits only the device forms the delegate knows (usb, pci:N, :N...).
  const options = device ? { device: device as CoralDevice } : {};
  const coral = new CoralDelegate(options, library || undefined, platform);
  if (!coral.node) throw new Error('coral-tflite-delegate gave no library to load');
  return { path: coral.node.path, options: [...coral.options] };
}
