import { InputError } from './input-error.js';

/** One thing wrong with a document: where (a JSON path such as `accesses[2].cpl`) and what. */
export interface DocumentIssue {
  /** The JSON path of the bad field, `accesses[2].cpl`; empty for the document as a whole. */
  readonly path: string;
  readonly message: string;
  /** 1-based line and column, for JSON syntax errors. */
  readonly line?: number;
  readonly column?: number;
}

/**
 * A document that cannot be read (a scenario, a result, a configuration): invalid JSON, an unknown format, a missing or
 * malformed field, or settings no CPU can be in. The message names the source (a file name, when
 * one was given) and each issue's path, one issue a line:
 * `scenario.json: accesses[2].cpl: expected 0, 1, 2 or 3, got 4`.
 */
export class DocumentError extends InputError {
  declare readonly issues: readonly DocumentIssue[];

  constructor(issues: readonly DocumentIssue[], source?: string) {
    super(issues.map((issue) => describeIssue(issue, source)).join('\n'), source);
    this.name = 'DocumentError';
    this.issues = issues;
  }
}

function describeIssue(issue: DocumentIssue, source: string | undefined): string {
  const where: string[] = [];
  if (source !== undefined) where.push(source);
  if (issue.line !== undefined) where.push(`line ${issue.line}, column ${issue.column ?? 1}`);
  if (issue.path !== '') where.push(issue.path);
  return where.length === 0 ? issue.message : `${where.join(': ')}: ${issue.message}`;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Formats a JSON path the way the messages spell it: `accesses[2].cpl`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else if (typeof key === 'string' && IDENTIFIER.test(key)) text += text === '' ? key : `.${key}`;
    else text += `[${JSON.stringify(String(key))}]`;
  }
  return text;
}

/** A short rendering of a JSON value for messages: `4`, `"x"`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'bigint') return `0x${value.toString(16)}`;
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
