/**
 * The counts of a class/enroll answer's data: answers also say where the class fires
 * (`recognised_in`) and may warn (`warning`); tests of other things compare the counts only.
 */
export function enrollCounts(data: unknown): { label: unknown; shots: unknown; added: unknown } {
  const d = data as { label?: unknown; shots?: unknown; added?: unknown };
  return { label: d.label, shots: d.shots, added: d.added };
}

/** A whole answer `{status, data}` with its data cut to the counts. */
export function enrollAnswerCounts(answer: unknown): { status: unknown; data: ReturnType<typeof enrollCounts> } {
  const a = answer as { status?: unknown; data?: unknown };
  return { status: a.status, data: enrollCounts(a.data) };
}
