import t from 'tap'
import type { FastifyError } from 'fastify'
import { errors } from '../../src/errors.js'
import { classifyError, jsonErrorBody } from '../../src/http/errors.js'

const opts = { missingCredentials: 'Authentication required' }
const fastifyError = (fields: Partial<FastifyError>): FastifyError => Object.assign(new Error(fields.message ?? 'boom'), fields) as FastifyError

t.test('classifyError: one ladder for every surface', async (t) => {
  t.same(classifyError(errors.conflict('taken') as unknown as FastifyError, opts),
    { status: 409, code: 'CONFLICT', message: 'taken', log: false, fromFramework: false }, 'our errors keep status, code and message')
  t.same(classifyError(fastifyError({ message: 'body/name must be string', validation: [], statusCode: 400 }), opts),
    { status: 400, code: 'BAD_REQUEST', message: 'body/name must be string', log: false, fromFramework: false })
  t.same(classifyError(fastifyError({ message: 'Missing or bad formatted authorization header', statusCode: 401, code: 'FST_BASIC_AUTH_MISSING_OR_BAD_AUTHORIZATION_HEADER' }), opts),
    { status: 401, code: 'UNAUTHORIZED', message: 'Authentication required', log: false, fromFramework: false })
  t.same(classifyError(fastifyError({ message: 'Rate limit exceeded', statusCode: 429, code: 'FST_ERR_RATE_LIMIT' }), opts),
    { status: 429, code: 'FST_ERR_RATE_LIMIT', message: 'Rate limit exceeded', log: false, fromFramework: true })
  t.same(classifyError(fastifyError({ message: 'secret internals' }), opts),
    { status: 500, code: 'INTERNAL', message: 'Internal server error', log: true, fromFramework: false }, 'a crash says nothing')
  t.same(classifyError(fastifyError({ message: 'odd', statusCode: 302 }), opts).status, 500)
  t.equal(classifyError(errors.schemaTooNew(9, 8) as unknown as FastifyError, opts).log, true, 'our 5xx are logged too')
})

t.test('jsonErrorBody: warning only for 401 and 403', async (t) => {
  t.same(JSON.parse(jsonErrorBody(401, 'UNAUTHORIZED', 'no').toString()), { code: 'UNAUTHORIZED', message: 'no', warning: 'no' })
  t.same(JSON.parse(jsonErrorBody(403, 'FORBIDDEN', 'no').toString()), { code: 'FORBIDDEN', message: 'no', warning: 'no' })
  t.same(JSON.parse(jsonErrorBody(404, 'NOT_FOUND', 'no').toString()), { code: 'NOT_FOUND', message: 'no' })
})
