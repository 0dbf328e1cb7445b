/**
 * MPEG-TS packets as ffmpeg writes them: 188 bytes, each starting with the sync byte 0x47.
 * A pipe read can end anywhere, so the live view cuts ffmpeg's output back into whole
 * packets before sending it: every WebSocket message then starts on a packet boundary, and
 * a viewer can be started exactly where a picture can be decoded from.
 */

export const TS_PACKET_BYTES = 188;
export const TS_SYNC_BYTE = 0x47;
/** MPEG-1 video sequence header start code: it precedes every GOP (the encoder repeats it). */
const SEQUENCE_HEADER = Buffer.from([0x00, 0x00, 0x01, 0xb3]);

/** Whole packets out of arbitrary chunks; bytes before a sync byte are skipped (and counted). */
export class TsAligner {
  private rest: Buffer = Buffer.alloc(0);
  /** Bytes thrown away to find the sync byte again (0 for a healthy ffmpeg). */
  skipped = 0;

  /** The whole packets now available (possibly none), as one buffer. */
  push(chunk: Buffer): Buffer {
    let data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    data = this.resync(data);
    const whole = data.length - (data.length % TS_PACKET_BYTES);
    // The tail is copied so that it does not hold on to the whole chunk.
    this.rest = Buffer.from(data.subarray(whole));
    return data.subarray(0, whole);
  }

  private resync(data: Buffer): Buffer {
    let start = 0;
    while (start < data.length && data[start] !== TS_SYNC_BYTE) start += 1;
    this.skipped += start;
    return start === 0 ? data : data.subarray(start);
  }
}

/**
 * Offset of the first packet in `packets` (whole packets) that starts a video PES whose
 * payload holds a sequence header: where a decoder can begin. -1 when there is none.
 */
export function firstKeyframePacket(packets: Buffer): number {
  for (let offset = 0; offset + TS_PACKET_BYTES <= packets.length; offset += TS_PACKET_BYTES) {
    if (isKeyframePacket(packets.subarray(offset, offset + TS_PACKET_BYTES))) return offset;
  }
  return -1;
}

export function isKeyframePacket(packet: Buffer): boolean {
  if (packet.length < TS_PACKET_BYTES || packet[0] !== TS_SYNC_BYTE) return false;
  const b1 = packet[1] ?? 0;
  const b3 = packet[3] ?? 0;
  const payloadUnitStart = (b1 & 0x40) !== 0;
  const adaptation = (b3 >> 4) & 0x3;
  if (!payloadUnitStart || (adaptation & 0x1) === 0) return false;
  const payload = adaptation & 0x2 ? 5 + (packet[4] ?? 0) : 4;
  // PES start code and a video stream id (0xE0-0xEF), then the PES header's own length.
  if (payload + 9 > packet.length || packet.readUIntBE(payload, 3) !== 0x000001) return false;
  const streamId = packet[payload + 3] ?? 0;
  if (streamId < 0xe0 || streamId > 0xef) return false;
  const data = payload + 9 + (packet[payload + 8] ?? 0);
  return packet.indexOf(SEQUENCE_HEADER, data) >= 0;
}
