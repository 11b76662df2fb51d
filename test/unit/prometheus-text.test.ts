import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus-text.js'

const valid = `# HELP requests_total Requests, by "result".
# TYPE requests_total counter
requests_total{result="hit"} 3
requests_total{result="odd \\"quoted\\" \\\\ value\\n"} 1.5e3
# TYPE latency_seconds histogram
latency_seconds_bucket{source="peer",le="0.1"} 1
latency_seconds_bucket{source="peer",le="1"} 4
latency_seconds_bucket{source="peer",le="+Inf"} 5
latency_seconds_sum{source="peer"} 2.5
latency_seconds_count{source="peer"} 5
# TYPE up gauge
up 1 1700000000000
`

/** The strict reader must refuse these; a reader that accepts everything proves nothing. */
const invalid: Record<string, string> = {
  'no TYPE': 'lonely 1\n',
  'no final newline': '# TYPE a gauge\na 1',
  'duplicate series': '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n',
  'family split': '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="2"} 1\n',
  'negative counter': '# TYPE c counter\nc -1\n',
  'bad escape': '# TYPE a gauge\na{x="\\t"} 1\n',
  'two spaces': '# TYPE a gauge\na  1\n',
  'bad value': '# TYPE a gauge\na one\n',
  'label twice': '# TYPE a gauge\na{x="1",x="2"} 1\n',
  'unterminated label': '# TYPE a gauge\na{x="1} 1\n',
  'TYPE after samples': '# TYPE a gauge\na 1\n# TYPE a gauge\n',
  'unknown type': '# TYPE a meter\na 1\n',
  'decreasing buckets': '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
  'no +Inf bucket': '# TYPE h histogram\nh_bucket{le="1"} 3\nh_sum 1\nh_count 3\n',
  'count differs': '# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_sum 1\nh_count 4\n'
}

describe('the strict Prometheus text reader', () => {
  it('reads families, escapes, histograms and timestamps', () => {
    const families = parsePrometheusText(valid)
    assert.equal(families.get('requests_total')?.type, 'counter')
    assert.equal(families.get('requests_total')?.help, 'Requests, by "result".')
    assert.equal(sampleValue(families, 'requests_total', { result: 'hit' }), 3)
    assert.equal(sampleValue(families, 'requests_total', { result: 'odd "quoted" \\ value\n' }), 1500)
    assert.equal(sampleValue(families, 'latency_seconds_count', { source: 'peer' }), 5)
    assert.equal(sampleValue(families, 'up'), 1)
    assert.equal(sampleValue(families, 'requests_total', { result: 'miss' }), undefined)
  })

  for (const [problem, text] of Object.entries(invalid)) {
    it(`refuses ${problem}`, () => {
      assert.throws(() => parsePrometheusText(text))
    })
  }
})
