import pkg from "../package.json" with { type: "json" };

/** Photon's version, embedded at build time from package.json. */
export const version: string = pkg.version;
