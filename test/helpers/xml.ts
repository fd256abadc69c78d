// A strict-enough XML well-formedness check for rendered SVG: every tag closes in order, attributes are quoted and
// not repeated, entities are the predefined five or numeric. Returns the root's name and every text node.
export interface XmlDoc {
  root: string;
  texts: string[];
  elements: number;
}

const NAME = "[A-Za-z_][\\w.:-]*";
const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

export function parseXml(text: string): XmlDoc {
  const stack: string[] = [];
  const texts: string[] = [];
  let root = "";
  let elements = 0;
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why}: ${JSON.stringify(text.slice(i, i + 60))}`);
  };
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    if (chunk.trim()) {
      if (stack.length === 0) fail("text outside the root");
      if (ENTITY.test(chunk)) fail("bad entity in text");
      texts.push(chunk);
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i);
      if (end < 0) fail("unclosed comment");
      i = end + 3;
      continue;
    }
    if (text.startsWith("<?", i)) {
      const end = text.indexOf("?>", i);
      if (end < 0) fail("unclosed processing instruction");
      i = end + 2;
      continue;
    }
    const end = text.indexOf(">", i);
    if (end < 0) fail("unclosed tag");
    const tag = text.slice(i + 1, end);
    const close = new RegExp(`^/(${NAME})\\s*$`).exec(tag);
    if (close) {
      if (stack.pop() !== close[1]) fail(`</${close[1]}> closes another element`);
    } else {
      const open = new RegExp(`^(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)$`).exec(tag);
      if (!open) fail("bad tag");
      const names = [...open![2]!.matchAll(new RegExp(`(${NAME})\\s*=`, "g"))].map((m) => m[1]);
      if (new Set(names).size !== names.length) fail("repeated attribute");
      if (ENTITY.test(open![2]!)) fail("bad entity in an attribute");
      if (stack.length === 0) {
        if (root) fail("a second root");
        root = open![1]!;
      }
      elements++;
      if (!open![3]) stack.push(open![1]!);
    }
    i = end + 1;
  }
  if (stack.length) throw new Error(`not well-formed: <${stack.at(-1)}> never closes`);
  if (!root) throw new Error("not well-formed: no root element");
  return { root, texts, elements };
}
