import { type Static, Type } from 'typebox';
import { ERROR_CODES } from './error-codes.js';

/**
 * The JSON body every failure shares, `{error: {code, message, field?}, message, timestamp}`:
 * error-mapping.ts builds it and the OpenAPI document names it as the `ErrorEnvelope` component.
 */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(ERROR_CODES), {
        description: 'what went wrong (README: Error codes)',
      }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the request field the error is about' })),
    }),
    message: Type.String(),
    timestamp: Type.String({ format: 'date-time' }),
  },
  { $id: 'ErrorEnvelope' },
);

export type ErrorBody = Static<typeof ErrorEnvelope>;
