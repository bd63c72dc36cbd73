/**
 * The text rules of `block-risky`: phrasing in a title or description aimed at the model rather than
 * at the reader. Only what a change *gains* counts — a rule's matches in the new text that the old text
 * did not have — so a tool that always said "see https://docs…" is not flagged for a wording change.
 *
 * Limits (heuristics, not a proof): English only; a paraphrase none of the patterns know ("it would be
 * wise to also look at the key file") passes; a benign new URL or path in a description is flagged (an
 * operator approves it); imperative verbs addressed to nobody in particular ("Read a file") are not
 * flagged, since ordinary descriptions are written that way, nor are "also use", "you will", "silently"
 * (ordinary in descriptions: "fails silently"). Hidden characters are `hidden.ts`'s job.
 */
export type TextRule = 'instruction' | 'ignore-previous' | 'concealment' | 'url' | 'file-path';

const RULES: Record<TextRule, RegExp> = {
  /** Addressed to the assistant, or ordering it to act before or around the tool's own job. */
  instruction: /\b(?:you (?:must|should|need to|have to|are required to)|(?:the )?(?:assistant|ai|model|llm|agent)\s*(?:must|should|needs? to|is required to)|before (?:answering|responding|replying|using|calling|running)|(?:always|first) (?:call|use|read|include|pass|send|fetch|run|upload|attach)|make sure (?:to|you)|(?:it is|it's) (?:very )?important (?:that|to))\b/giu,
  'ignore-previous': /\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|other|system|all)\b[^.\n]{0,20}?\b(?:instructions?|rules?|prompts?|messages?|guidelines?|directions?)\b/giu,
  concealment: /\b(?:(?:do not|don't|never) (?:tell|inform|mention|show|reveal|alert)\b[^.\n]{0,30}?\b(?:user|human|operator)|without (?:telling|informing|asking|notifying)|secretly)\b|<\s*\/?\s*(?:important|system|instructions?|secret)\s*>/giu,
  url: /\b(?:https?|ftp|file|data|wss?):\/\/?[^\s"'<>)]+/giu,
  /** Home-relative, absolute under a system or home root, Windows drive, parent-relative, and secrets' names. */
  'file-path': /(?:~[/\\][^\s"'`)]*|(?<![\w/])\/(?:etc|home|root|usr|var|tmp|proc|sys|Users|private|opt)\/[^\s"'`)]*|\b[a-z]:\\[^\s"'`)]*|\.\.?\/[^\s"'`)]+|(?<![\w])\.(?:ssh|aws|env|npmrc|netrc|pgpass|docker|kube|gnupg|bash_history)\b|\bid_(?:rsa|ed25519|ecdsa|dsa)\b)/giu,
};

export interface TextFinding {
  rule: TextRule;
  /** The matched text as found, trailing punctuation off, lower-cased, cut to 80 characters. */
  match: string;
}

function findingsIn(text: string): TextFinding[] {
  const found: TextFinding[] = [];
  for (const [rule, pattern] of Object.entries(RULES) as [TextRule, RegExp][]) {
    for (const [match] of text.matchAll(pattern)) found.push({ rule, match: match.replace(/[.,;:!?]+$/u, '').toLowerCase().slice(0, 80) });
  }
  return found;
}

/** The rule matches in `after` that `before` (undefined: nothing) did not have, each once. */
export function gainedFindings(before: string | undefined, after: string): TextFinding[] {
  const had = new Set(findingsIn(before ?? '').map(({ rule, match }) => `${rule}|${match}`));
  const gained = new Map<string, TextFinding>();
  for (const finding of findingsIn(after)) {
    const key = `${finding.rule}|${finding.match}`;
    if (!had.has(key)) gained.set(key, finding);
  }
  return [...gained.values()];
}
