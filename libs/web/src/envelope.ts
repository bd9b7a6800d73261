import type { Request, Response } from 'express';
import type { AppError, FieldMessages, MessageRef } from '@imm/errors';
import { type Language, pickLanguage, translate } from './messages';

export type SuccessEnvelope<T> = { status: 1; result: T };
export type ErrorEnvelope = { status: 0; message: string | Record<string, string[]>; error_code: number };

export function languageOf(req: Request): Language {
  return pickLanguage(req.get('accept-language'));
}

function isFieldMessages(detail: MessageRef | FieldMessages): detail is FieldMessages {
  return !('key' in detail && typeof detail.key === 'string');
}

export function errorEnvelope(error: AppError, language: Language): ErrorEnvelope {
  const { detail } = error;
  const message = isFieldMessages(detail)
    ? Object.fromEntries(
        Object.entries(detail).map(([field, refs]) => [field, refs.map((r) => translate(r, language))]),
      )
    : translate(detail, language);
  return { status: 0, message, error_code: error.code };
}

/** Writes a success envelope. */
export function send<T>(res: Response, result: T, httpStatus = 200): void {
  res.status(httpStatus).json({ status: 1, result } satisfies SuccessEnvelope<T>);
}
