// Small helpers around uWS HTTP responses: JSON replies, error bodies, bounded body reading.
import type { HttpResponse } from 'uWebSockets.js'
import { AppError } from '../errors.js'
import { HTTP_STATUS, type ErrorCode } from '../protocol.js'
import { assertStorable } from '../validate.js'

export type Responder = { aborted: boolean }

/** Marks the response aborted when the client goes away; call before any await. */
export function track(res: HttpResponse): Responder {
  const state = { aborted: false }
  res.onAborted(() => {
    state.aborted = true
  })
  return state
}

export function sendJson(res: HttpResponse, state: Responder, status: string, body: unknown): void {
  if (state.aborted) return
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').end(JSON.stringify(body))
  })
}

export function errorBody(code: ErrorCode, message: string, retryAfterMs?: number) {
  return { error: retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs } }
}

export function sendError(res: HttpResponse, state: Responder, err: AppError): void {
  sendJson(res, state, HTTP_STATUS[err.code], errorBody(err.code, err.message, err.retryAfterMs))
}

/** Reads the whole body (at most `limit` bytes) and parses it as a JSON object. */
export function readJsonBody(res: HttpResponse, state: Responder, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    res.onData((chunk, isLast) => {
      if (failed) return
      size += chunk.byteLength
      if (size > limit) {
        failed = true
        reject(new AppError('too_large', `request body over ${limit} bytes`))
        return
      }
      chunks.push(Buffer.from(chunk.slice(0)))
      if (!isLast) return
      if (state.aborted) return
      const text = Buffer.concat(chunks).toString('utf8')
      if (text.trim() === '') return resolve({})
      try {
        const parsed: unknown = JSON.parse(text)
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          reject(new AppError('bad_request', 'the body must be a JSON object'))
        } else {
          // PostgreSQL cannot store U+0000 (nor unpaired surrogates): refused here for every route
          assertStorable(parsed)
          resolve(parsed as Record<string, unknown>)
        }
      } catch (err) {
        reject(err instanceof AppError ? err : new AppError('bad_request', 'the body is not valid JSON'))
      }
    })
  })
}
