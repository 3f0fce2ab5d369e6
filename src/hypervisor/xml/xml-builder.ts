/**
 * A tiny XML writer: every text and attribute value goes through escaping, so no caller ever
 * concatenates user input into libvirt XML.
 */
export interface XmlElement {
  tag: string;
  attrs: Record<string, string | number | boolean | undefined>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string | number | undefined | false | null;

const TAG = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

export function escapeXml(value: string): string {
  // Control characters other than tab, newline and carriage return are not allowed in XML 1.0.
  // eslint-disable-next-line no-control-regex
  const cleaned = value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd');
  return cleaned
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function el(tag: string, attrs: XmlElement['attrs'] = {}, ...children: XmlNode[]): XmlElement {
  if (!TAG.test(tag)) throw new Error(`invalid XML tag name: ${tag}`);
  for (const key of Object.keys(attrs)) if (!TAG.test(key)) throw new Error(`invalid XML attribute name: ${key}`);
  return { tag, attrs, children };
}

function isElement(node: XmlNode): node is XmlElement {
  return typeof node === 'object' && node !== null;
}

export function renderXml(node: XmlElement, indent = ''): string {
  const attrs = Object.entries(node.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join('');
  const children = node.children.filter((c) => c !== undefined && c !== null && c !== false);
  if (children.length === 0) return `${indent}<${node.tag}${attrs}/>`;
  if (children.every((c) => !isElement(c))) {
    return `${indent}<${node.tag}${attrs}>${children.map((c) => escapeXml(String(c))).join('')}</${node.tag}>`;
  }
  const inner = children
    .map((c) => (isElement(c) ? renderXml(c, `${indent}  `) : `${indent}  ${escapeXml(String(c))}`))
    .join('\n');
  return `${indent}<${node.tag}${attrs}>\n${inner}\n${indent}</${node.tag}>`;
}
