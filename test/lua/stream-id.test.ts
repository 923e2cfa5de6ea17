// Stream id order: numeric per part (text order is wrong), leading zeros ignored, unparseable first.
import t from 'tap'
import { compareStreamIds } from '../../lua/stream-id.js'

t.test('stream ids compare as numbers, part by part', async (t) => {
  t.equal(compareStreamIds('9-0', '10-0'), -1, 'more digits is later')
  t.equal(compareStreamIds('10-0', '9-5'), 1)
  t.equal(compareStreamIds('5-9', '5-10'), -1, 'the sequence compares as a number too')
  t.equal(compareStreamIds('5-3', '5-3'), 0)
  t.equal(compareStreamIds('5', '5-0'), 0, 'a missing sequence is 0')
  t.equal(compareStreamIds('007-1', '7-1'), 0, 'leading zeros do not count')
  t.equal(compareStreamIds('0-0', '1-0'), -1)
  t.equal(compareStreamIds('x', '0-0'), -1, 'an unparseable id sorts first')
  t.equal(compareStreamIds('x', 'y'), 0)
})
