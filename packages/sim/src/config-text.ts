import { DocumentError, type DocumentIssue } from '@hvsim/errors';
import {
  Composer,
  CST,
  type Document,
  isAlias,
  isCollection,
  isMap,
  isNode,
  isScalar,
  Lexer,
  LineCounter,
  type Node,
  Parser,
  visit,
} from 'yaml';

/*
 * Reading a configuration's text into a plain value, safely: whatever the bytes, this returns a value
 * and a way to locate its nodes, or throws a `DocumentError` whose every issue has a line and column.
 * The work is bounded before the YAML library is asked to do anything that grows with its input:
 *
 * - the text's size and its lines' lengths are checked first (a configuration is a few hundred bytes);
 * - the library's lexer (iterative) finds how deep flow collections and block indicators on one line
 *   (`- - - x`) nest before its parser, which recurses on those, sees them; the parser's concrete
 *   syntax tree is then checked for depth and for items a collection, before the composer, which
 *   recurses once a level and compares each key with those before it, sees it;
 * - aliases are counted, and each must name an anchor set before it and outside itself (a cycle), and
 *   the library's own expansion limit (`maxAliasCount`) is set low, its `ReferenceError` translated;
 * - tags other than YAML 1.2's core ones, collection keys and every warning are refused;
 * - anything the library still throws is reported at the document's start, never passed through.
 */

/** Characters a configuration may have: the presets are under 2 KiB; a TLB geometry written out is a few. */
export const MAX_DOCUMENT_CHARS = 64 * 1024;
/** Characters a line may have: room for a whole configuration as one line of JSON. */
export const MAX_LINE_CHARS = 8 * 1024;
/** Levels of nested mappings and lists: a configuration has 7 at most (the top mapping, tlb, levels, a level, caches, a structure, its pageSizes). */
export const MAX_DEPTH = 32;
/** Items of one mapping or list: a configuration's largest has 17 (its top level). */
export const MAX_ITEMS = 256;
/** Aliases (`*name`) a document may hold: enough to share a few structures, too few to multiply work. */
export const MAX_ALIASES = 64;
/**
 * The library's bound on alias expansion (an anchored value's uses times the aliases inside it): its
 * default, 100, lets nested aliases build thousands of nodes; a configuration never needs more than this.
 */
const MAX_ALIAS_EXPANSION = 50;
/** Issues a `DocumentError` lists before it says how many more there are. */
const MAX_ISSUES = 20;

/** The tags of YAML 1.2's core schema: the only ones a configuration can mean anything by. */
const CORE_TAGS: ReadonlySet<string> = new Set(
  ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`),
);

/** A read document: its plain value, and the line and column of a node by JSON path. */
export interface ConfigText {
  readonly value: unknown;
  /** Line and column of the node at `path` (of its key, when `atKey`), else of the nearest node above it. */
  readonly locate: (path: readonly PropertyKey[], atKey: boolean) => { line: number; column: number };
}

/** Reads YAML (or JSON, which YAML 1.2 reads as it is); throws a `DocumentError` naming line and column. */
export function readConfigText(text: string, source: string): ConfigText {
  const lines = new LineCounter();
  const at = (offset: number, message: string): DocumentIssue => {
    const pos = lines.linePos(Math.max(0, Math.min(offset, text.length)));
    return { path: '', line: pos.line, column: pos.col, message };
  };
  const fail = (issues: DocumentIssue[]): never => {
    throw new DocumentError(capIssues(issues), source);
  };
  checkSize(text, source, lines);
  const nested = lexicalDepth(text);
  if (nested !== null) return fail([at(nested, TOO_DEEP)]);
  let tokens: CST.Token[];
  try {
    tokens = Array.from(new Parser().parse(text));
  } catch (error) {
    return fail([at(0, `the YAML parser failed: ${messageOf(error)}`)]);
  }
  const shape = checkShape(tokens);
  if (shape !== null) return fail([at(shape.offset, shape.message)]);
  let doc: Document.Parsed | undefined;
  try {
    const composer = new Composer({
      schema: 'core',
      merge: false,
      uniqueKeys: true,
      prettyErrors: false,
      logLevel: 'silent',
    });
    for (const composed of composer.compose(tokens, true, text.length)) {
      if (doc !== undefined) {
        fail([at(composed.range[0], 'a second document; a configuration is one YAML document')]);
      }
      doc = composed;
    }
  } catch (error) {
    if (error instanceof DocumentError) throw error;
    return fail([at(0, `the YAML parser failed: ${messageOf(error)}`)]);
  }
  if (doc === undefined) return fail([at(0, 'the YAML parser read no document')]);
  const parsed = doc;
  const problems = [...parsed.errors, ...parsed.warnings].map((e) => {
    const tag = e.code === 'TAG_RESOLVE_FAILED' ? /Unresolved tag: (\S+)/.exec(e.message) : null;
    return at(e.pos[0], tag === null ? firstLine(e.message) : unknownTag(tag[1]));
  });
  if (problems.length > 0) fail(problems);
  const structural = checkNodes(parsed);
  if (structural.length > 0) fail(structural.map((p) => at(p.offset, p.message)));
  let value: unknown;
  try {
    value = parsed.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (error) {
    const firstAlias = findFirstAlias(parsed);
    const message =
      error instanceof ReferenceError && /alias/i.test(error.message)
        ? `aliases here expand to more than ${MAX_ALIAS_EXPANSION} copies of anchored values; write the values out, or share fewer (${firstLine(error.message)})`
        : `the YAML library failed: ${messageOf(error)}`;
    return fail([at(firstAlias, message)]);
  }
  return {
    value,
    locate: (path, atKey) => {
      const node = (atKey ? keyAt(parsed, path) : nodeAt(parsed, path)) ?? parsed.contents;
      const pos = lines.linePos(node?.range?.[0] ?? 0);
      return { line: pos.line, column: pos.col };
    },
  };
}

/**
 * The size limits, checked before any parsing: they bound all the work that follows. Fills `lines`
 * with the text's line starts on the way.
 */
function checkSize(text: string, source: string, lines: LineCounter): void {
  if (text.length > MAX_DOCUMENT_CHARS) {
    throw new DocumentError(
      [
        {
          path: '',
          line: 1,
          column: 1,
          message: `${text.length} characters is more than a configuration may have (${MAX_DOCUMENT_CHARS}); is this the right file?`,
        },
      ],
      source,
    );
  }
  let line = 1;
  let start = 0;
  lines.addNewLine(0);
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && text.charCodeAt(i) !== 10) continue;
    if (i - start > MAX_LINE_CHARS) {
      throw new DocumentError(
        [
          {
            path: '',
            line,
            column: MAX_LINE_CHARS + 1,
            message: `line ${line} has ${i - start} characters, more than the ${MAX_LINE_CHARS} a configuration's line may have`,
          },
        ],
        source,
      );
    }
    line++;
    start = i + 1;
    if (i < text.length) lines.addNewLine(start);
  }
}

const TOO_DEEP = `mappings and lists nest more than ${MAX_DEPTH} levels deep here; a configuration needs 7 at most`;

/** Lexer control characters, which stand for no text of the source (yaml's lexer: DOCUMENT, FLOW_END, SCALAR). */
const LEXER_CONTROLS: ReadonlySet<string> = new Set(['\x02', '\x18', '\x1f']);

/**
 * The offset where flow collections nest deeper than `MAX_DEPTH`, or where more block indicators than
 * that open on one line, or null. A conservative bound (an indicator need not open a level), found by
 * the lexer alone: the parser's work on such nesting grows faster than its length.
 */
function lexicalDepth(text: string): number | null {
  let offset = 0;
  let flow = 0;
  let onLine = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'flow-map-start' || type === 'flow-seq-start') {
      if (++flow > MAX_DEPTH) return offset;
    } else if (type === 'flow-map-end' || type === 'flow-seq-end') {
      flow = Math.max(0, flow - 1);
    } else if (type === 'newline') {
      onLine = 0;
    } else if (
      flow === 0 &&
      (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')
    ) {
      if (++onLine > MAX_DEPTH) return offset;
    }
    if (!LEXER_CONTROLS.has(token)) offset += token.length;
  }
  return null;
}

/**
 * The first collection nested deeper than `MAX_DEPTH` or holding more than `MAX_ITEMS` items, with its
 * offset and what is wrong, or null; iterative, as the input may be deep.
 */
function checkShape(tokens: readonly CST.Token[]): Problem | null {
  const stack: Array<[CST.Token, number]> = [];
  for (const token of tokens) if (token.type === 'document' && token.value) stack.push([token.value, 0]);
  while (stack.length > 0) {
    const [token, depth] = stack.pop() as [CST.Token, number];
    if (token.type !== 'block-map' && token.type !== 'block-seq' && token.type !== 'flow-collection')
      continue;
    if (depth + 1 > MAX_DEPTH) return { offset: token.offset, message: TOO_DEEP };
    if (token.items.length > MAX_ITEMS) {
      const item = token.items[MAX_ITEMS];
      const first = item.start[0] ?? ('key' in item ? item.key : undefined) ?? item.value;
      return {
        offset: first?.offset ?? token.offset,
        message: `more than ${MAX_ITEMS} items in one mapping or list; a configuration's largest has 17`,
      };
    }
    for (const item of token.items) {
      if ('key' in item && item.key) stack.push([item.key, depth + 1]);
      if (item.value) stack.push([item.value, depth + 1]);
    }
  }
  return null;
}

interface Problem {
  readonly offset: number;
  readonly message: string;
}

/** Aliases, anchors, tags and keys a configuration cannot mean anything by, with their offsets. */
function checkNodes(doc: Document.Parsed): Problem[] {
  const problems: Problem[] = [];
  const anchors = new Map<string, Node>();
  let aliases = 0;
  visit(doc, {
    Node: (_key, node, path) => {
      const offset = node.range?.[0] ?? 0;
      if (isAlias(node)) {
        aliases++;
        if (aliases === MAX_ALIASES + 1) {
          problems.push({
            offset,
            message: `more than ${MAX_ALIASES} aliases; a configuration shares a few values at most`,
          });
        }
        const target = anchors.get(node.source);
        if (target === undefined) {
          problems.push({
            offset,
            message: `alias *${node.source} names no anchor &${node.source} before it`,
          });
        } else if (path.includes(target)) {
          problems.push({
            offset,
            message: `alias *${node.source} is inside the value &${node.source} anchors: a value cannot contain itself`,
          });
        }
        return;
      }
      if (node.anchor !== undefined) anchors.set(node.anchor, node);
      if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
        problems.push({
          offset,
          message: unknownTag(node.tag),
        });
      }
    },
    Pair: (_key, pair) => {
      if (isNode(pair.key) && !isScalar(pair.key)) {
        problems.push({
          offset: pair.key.range?.[0] ?? 0,
          message: isAlias(pair.key)
            ? 'an alias as a key; keys are field names'
            : 'a mapping or list as a key; keys are field names',
        });
      }
    },
  });
  return problems;
}

function findFirstAlias(doc: Document.Parsed): number {
  let offset = 0;
  visit(doc, {
    Alias: (_key, node) => {
      offset = node.range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  return offset;
}

function unknownTag(tag: string): string {
  return `tag ${shortTag(tag)} means nothing in a configuration, which holds only mappings, lists, strings, numbers, booleans and null`;
}

function shortTag(tag: string): string {
  return tag.startsWith('tag:yaml.org,2002:') ? `!!${tag.slice('tag:yaml.org,2002:'.length)}` : tag;
}

/** The first `MAX_ISSUES` issues, and one more that says how many were left out. */
export function capIssues(issues: readonly DocumentIssue[]): DocumentIssue[] {
  if (issues.length <= MAX_ISSUES) return [...issues];
  const rest = issues.length - MAX_ISSUES;
  return [
    ...issues.slice(0, MAX_ISSUES),
    { ...issues[MAX_ISSUES], message: `and ${rest} more problem${rest === 1 ? '' : 's'} from here on` },
  ];
}

function messageOf(error: unknown): string {
  return firstLine(error instanceof Error ? error.message : String(error));
}

function firstLine(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** The key node of the last step of `path` (for an unknown field), else the node of its value. */
function keyAt(doc: Document.Parsed, path: readonly PropertyKey[]): Node | undefined {
  const parent = path.length <= 1 ? doc.contents : doc.getIn(path.slice(0, -1) as unknown[], true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === path[path.length - 1]);
    if (pair !== undefined && isScalar(pair.key)) return pair.key;
  }
  return nodeAt(doc, path);
}

/** The deepest node of `path` that exists in the document (a missing key points at its mapping). */
function nodeAt(doc: Document.Parsed, path: readonly PropertyKey[]): Node | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) || isCollection(node)) return node as Node;
  }
  return undefined;
}
