/**
 * Where a symlink of a release really leads, resolved the way the kernel would: component by
 * component, each component that is itself a symlink of the release replaced by its target. Pure.
 *
 * Checking each link's target as text is not enough: `a/up -> ..` and `a/root -> up/..` each stay
 * inside when read alone (`a/up/..` normalises to `a`), yet `a/root` resolves to the parent of the
 * release. So every link is resolved through the whole chain before a release is accepted.
 */

/** Most links followed while resolving one path: Linux's own bound (MAXSYMLINKS). */
export const MAX_LINK_HOPS = 40;

export type LinkResolution =
  | { readonly inside: true; readonly path: string }
  | { readonly inside: false; readonly reason: 'escapes' | 'absolute' | 'loop'; readonly via: string };

/**
 * Resolves the symlink at `link` (a normalised path relative to the release root) through
 * `links` (every symlink of the release: path → target as written). `path` is where it leads,
 * relative to the release root (`.` for the root itself); dangling targets are fine as long as
 * they stay inside.
 */
export function resolveLink(link: string, links: ReadonlyMap<string, string>): LinkResolution {
  const target = links.get(link);
  if (target === undefined) return { inside: true, path: link };
  const out: string[] = [];
  // the link's own directory, then its target: both walked through the chain
  let todo: string[] = [...segments(parentOf(link)), ...segments(target)];
  if (target.startsWith('/')) return { inside: false, reason: 'absolute', via: link };
  let hops = 1;
  while (todo.length > 0) {
    const [head, ...rest] = todo as [string, ...string[]];
    todo = rest;
    if (head === '.') continue;
    if (head === '..') {
      if (out.length === 0) return { inside: false, reason: 'escapes', via: link };
      out.pop();
      continue;
    }
    const candidate = [...out, head].join('/');
    const next = links.get(candidate);
    if (next === undefined) {
      out.push(head);
      continue;
    }
    hops += 1;
    if (hops > MAX_LINK_HOPS) return { inside: false, reason: 'loop', via: candidate };
    if (next.startsWith('/')) return { inside: false, reason: 'absolute', via: candidate };
    // a link's target is relative to the directory holding it, which is `out`
    todo = [...segments(next), ...todo];
  }
  return { inside: true, path: out.length === 0 ? '.' : out.join('/') };
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

function segments(p: string): string[] {
  return p.split('/').filter((s) => s !== '');
}
