/** Which GETs go through the swarm: regexes over the full upstream URL (Dragonfly's `proxies`). */
export class ProxyRules {
  private readonly patterns: RegExp[]

  constructor (rules: string[]) {
    this.patterns = rules.map(rule => new RegExp(rule))
  }

  matches (url: URL): boolean {
    return this.patterns.some(pattern => pattern.test(url.href))
  }
}
