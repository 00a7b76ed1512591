import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/** An image format qemu-img knows but a volume cannot have. */
export interface ForeignFormat {
  /** What people call it, e.g. `VMDK`. */
  name: string;
  /** qemu-img's `-f` name for it, e.g. `vmdk`. */
  qemu: string;
}

/** Bytes of an image's start and end {@link recognizeForeignFormat} looks at. */
export const PROBE_BYTES = 512;

const ascii = (text: string) => Buffer.from(text, "latin1");
const startsWith = (data: Uint8Array, magic: Uint8Array, at = 0) =>
  data.length >= at + magic.length && Buffer.from(data.buffer, data.byteOffset + at, magic.length).equals(magic);

/**
 * Magics as qemu's block drivers probe them (block/<driver>.c, `*_probe`),
 * at the start of the image unless `at` says otherwise.
 */
const headMagics: { magic: Uint8Array; at?: number; format: ForeignFormat }[] = [
  { magic: ascii("KDMV"), format: { name: "VMDK", qemu: "vmdk" } }, // sparse extent (VMware "hosted sparse")
  { magic: ascii("COWD"), format: { name: "VMDK", qemu: "vmdk" } }, // ESX sparse extent
  { magic: ascii("# Disk DescriptorFile"), format: { name: "VMDK descriptor", qemu: "vmdk" } },
  { magic: Uint8Array.of(0x7f, 0x10, 0xda, 0xbe), at: 0x40, format: { name: "VDI", qemu: "vdi" } }, // 0xbeda107f little-endian
  { magic: ascii("vhdxfile"), format: { name: "VHDX", qemu: "vhdx" } },
  { magic: ascii("conectix"), format: { name: "VHD", qemu: "vpc" } }, // dynamic VHD: a footer copy first
  { magic: ascii("QED\0"), format: { name: "QED", qemu: "qed" } },
  { magic: Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe), format: { name: "LUKS", qemu: "luks" } },
  { magic: Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1), format: { name: "qcow (version 1)", qemu: "qcow" } },
  { magic: ascii("WithoutFreeSpace"), format: { name: "Parallels", qemu: "parallels" } },
  { magic: ascii("WithouFreSpacExt"), format: { name: "Parallels", qemu: "parallels" } },
  { magic: ascii("Bochs Virtual HD Image"), format: { name: "Bochs", qemu: "bochs" } },
  { magic: ascii("#!/bin/sh\n#V2.0 Format\n"), format: { name: "cloop", qemu: "cloop" } },
];

/** Magics in the last 512 bytes: formats whose only header is a footer. */
const tailMagics: { magic: Uint8Array; format: ForeignFormat }[] = [
  { magic: ascii("conectix"), format: { name: "VHD", qemu: "vpc" } }, // fixed VHD: raw data, then a footer
  { magic: ascii("koly"), format: { name: "DMG", qemu: "dmg" } },
];

/**
 * The foreign format an image is in, judged from its first and last
 * {@link PROBE_BYTES} bytes; undefined for raw and qcow2 (v2, v3) images,
 * which a volume can hold. A raw disk could begin with one of these magics
 * by chance; whoever knows better says `format=raw` and is not asked.
 */
export function recognizeForeignFormat(head: Uint8Array, tail: Uint8Array): ForeignFormat | undefined {
  return headMagics.find((m) => startsWith(head, m.magic, m.at))?.format ?? tailMagics.find((m) => startsWith(tail, m.magic))?.format;
}

/** {@link recognizeForeignFormat} on a file. */
export function foreignFormatOfFile(path: string): ForeignFormat | undefined {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(PROBE_BYTES, size));
    readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(PROBE_BYTES, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return recognizeForeignFormat(head, tail);
  } finally {
    closeSync(fd);
  }
}

/** What to tell someone who brought an image in a foreign format: its name and the command that converts it. */
export function foreignFormatAdvice(format: ForeignFormat, file = "IMAGE"): string {
  const target = file.replace(/\.[^./]*$/, "") + ".qcow2";
  return `${file === "IMAGE" ? "the image" : file} is a ${format.name} image; Photon takes raw and qcow2 only: convert it with \`qemu-img convert -f ${format.qemu} -O qcow2 ${file} ${target}\` and import ${target}`;
}
