/**
 * Classes shared with other nodes (the fleet gallery, src/fleet/): what the imprinting
 * service merges with its own store when `gallery.sync` is on. Declared here so that
 * imprinting depends on no fleet code; the gallery book implements it.
 */

/** One class as the whole fleet has it (this node's shots included). */
export interface SharedClass {
  label: string;
  background: boolean;
  /** The threshold override in effect fleet-wide (the latest set anywhere), null: from the data. */
  threshold: number | null;
  /** Live shots fleet-wide, this node's included. */
  shots: number;
  /** Shots of other nodes, as raw unit embeddings of this node's model, oldest first. */
  peerShots: Float32Array[];
  /** Negatives of other nodes (frames their users said were not this class), raw unit embeddings. */
  peerNegatives: Float32Array[];
  /** The node that made the oldest live shot. */
  origin: string;
  created_at: string;
  updated_at: string;
}

export interface SharedClasses {
  /** Takes in what changed in the store (new shots and negatives, settings changed by the CLI). */
  refresh(): void;
  /** Every class fleet-wide, by label; peers' vectors in `model`'s space. */
  classes(model: string): Map<string, SharedClass>;
  remove(label: string): void;
  rename(label: string, to: string): void;
  /** Removes the newest shot of the class fleet-wide. */
  undo(label: string): { label: string; shots: number };
  /** Removes one of this node's shots (by its store id). */
  removeShot(id: number): { label: string; shots: number };
  setClass(label: string, settings: { threshold?: number | null; background?: boolean }): void;
}
