import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Safe checks before creating the Coral delegate: TFLite dereferences a null delegate
 * (and kills the process) when the library cannot be loaded, so we try loading it first.
 */
export function probeLibrary(library: string): { ok: true } | { ok: false; reason: string } {
  try {
    process.dlopen({ exports: {} }, library);
    return { ok: true };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // It loaded, it just isn't a Node addon: that is the success case for a plain .so.
    if (/did not self-register/i.test(message)) {
      return { ok: true };
    }
    return { ok: false, reason: `${library} could not be loaded (${message.split('\n')[0]})` };
  }
}

// USB ids of the Coral USB Accelerator before and after its firmware is loaded.
const CORAL_USB_IDS = new Set(['1a6e:089a', '18d1:9302']);

function usbCorals(sysfs: string): number {
  const dir = join(sysfs, 'bus/usb/devices');
  if (!existsSync(dir)) return 0;
  let count = 0;
  for (const entry of readdirSync(dir)) {
    try {
      const vendor = readFileSync(join(dir, entry, 'idVendor'), 'utf8').trim();
      const product = readFileSync(join(dir, entry, 'idProduct'), 'utf8').trim();
      if (CORAL_USB_IDS.has(`${vendor}:${product}`)) count++;
    } catch {
      // interfaces and hubs without ids
    }
  }
  return count;
}

function pciCorals(dev: string): number {
  if (!existsSync(dev)) return 0;
  return readdirSync(dev).filter((name) => /^apex_\d+$/.test(name)).length;
}

/** Which Coral devices answer on this machine, as the delegate's device strings. */
export function findCorals(roots = { sysfs: '/sys', dev: '/dev' }): { usb: number; pci: number } {
  return { usb: usbCorals(roots.sysfs), pci: pciCorals(roots.dev) };
}

export function coralPresent(device: string, found: { usb: number; pci: number }): boolean {
  if (device.startsWith('usb')) return found.usb > Number(device.split(':')[1] ?? 0);
  if (device.startsWith('pci')) return found.pci > Number(device.split(':')[1] ?? 0);
  return found.usb + found.pci > 0;
}
