/**
 * A strict little XML reader for the documents the installers write (PackageInfo,
 * Distribution, plists, the .wxs): elements, attributes, text. It throws on anything
 * malformed (unclosed or mismatched tags, duplicate attributes, stray '<' or '&'), which
 * is the point: the tests check well-formedness, then read values.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(s: string, where: number): string {
  return s.replace(/&([^;]*);|&/g, (m, name: string | undefined) => {
    if (name !== undefined && name in ENTITIES) return ENTITIES[name]!;
    if (name?.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name?.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    throw new Error(`bad entity ${m} near offset ${where}`);
  });
}

export function parseXml(text: string): XmlElement {
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  const tag = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  let last = 0;
  for (let m = tag.exec(text); m; m = tag.exec(text)) {
    const between = text.slice(last, m.index);
    if (between.includes('<')) throw new Error(`malformed markup near offset ${last}`);
    stack[stack.length - 1]!.text += decode(between, last);
    last = tag.lastIndex;
    const [, close, open, attrText, selfClose] = m;
    if (close) {
      const top = stack.pop();
      if (!top || top.name !== close) throw new Error(`</${close}> closes <${top?.name ?? 'nothing'}> at offset ${m.index}`);
    } else if (open) {
      const attrs: Record<string, string> = {};
      for (const a of (attrText ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        if (a[1]! in attrs) throw new Error(`duplicate attribute ${a[1]} on <${open}>`);
        attrs[a[1]!] = decode(a[2] ?? a[3] ?? '', m.index);
      }
      const el: XmlElement = { name: open, attrs, children: [], text: '' };
      stack[stack.length - 1]!.children.push(el);
      if (!selfClose) stack.push(el);
    }
  }
  if (text.slice(last).trim() !== '') throw new Error('text after the root element');
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (root.children.length !== 1) throw new Error(`expected one root element, found ${root.children.length}`);
  return root.children[0]!;
}

/** Every descendant element called `name`, document order. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  return el.children.flatMap((c) => [...(c.name === name ? [c] : []), ...findAll(c, name)]);
}

export function find(el: XmlElement, name: string): XmlElement {
  const found = findAll(el, name)[0];
  if (!found) throw new Error(`no <${name}> in <${el.name}>`);
  return found;
}

type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

/** An Apple XML property list as a plain value. */
export function parsePlist(text: string): PlistValue {
  const root = parseXml(text);
  if (root.name !== 'plist' || root.children.length !== 1) throw new Error('not a plist with one top-level value');
  const value = (el: XmlElement): PlistValue => {
    switch (el.name) {
      case 'string': return el.text;
      case 'integer': return Number(el.text);
      case 'true': return true;
      case 'false': return false;
      case 'array': return el.children.map(value);
      case 'dict': {
        const out: Record<string, PlistValue> = {};
        for (let i = 0; i < el.children.length; i += 2) {
          const k = el.children[i]!;
          const v = el.children[i + 1];
          if (k.name !== 'key' || !v) throw new Error('a plist dict must alternate <key> and a value');
          out[k.text] = value(v);
        }
        return out;
      }
      default: throw new Error(`unsupported plist element <${el.name}>`);
    }
  };
  return value(root.children[0]!);
}
