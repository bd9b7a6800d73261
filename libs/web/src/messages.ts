import type { MessageRef } from '@imm/errors';

export type Language = 'en' | 'ko';
export const LANGUAGES: readonly Language[] = ['en', 'ko'];

/** Message texts by key, every key in every language. */
export type MessageCatalog<K extends string = string> = { readonly [L in Language]: Readonly<Record<K, string>> };

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/** What is wrong with a catalog: keys missing in a language, empty texts, placeholders that differ. */
export function catalogProblems(catalog: MessageCatalog): string[] {
  const problems: string[] = [];
  const keys = new Set(LANGUAGES.flatMap((language) => Object.keys(catalog[language])));
  for (const key of keys) {
    for (const language of LANGUAGES) {
      const text = catalog[language][key];
      if (text === undefined) problems.push(`${key} has no ${language} text`);
      else if (text.trim() === '') problems.push(`${key} has an empty ${language} text`);
    }
    const [en, ...others] = LANGUAGES.map((language) => placeholders(catalog[language][key] ?? '').join(','));
    if (others.some((other) => other !== en)) problems.push(`${key} has different placeholders across languages`);
  }
  return problems;
}

/**
 * A catalog of message texts: the Korean texts must have exactly the English keys (a missing key
 * does not compile), and every text must be there, non-empty, with the same placeholders (checked
 * when the module loads, so any test that loads it fails).
 */
export function defineMessages<const K extends string>(catalog: {
  en: Record<K, string>;
  ko: NoInfer<Record<K, string>>;
}): MessageCatalog<K> {
  const problems = catalogProblems(catalog);
  if (problems.length > 0) throw new Error(`message catalog: ${problems.join('; ')}`);
  return catalog;
}

/** English texts follow the Django service's wording where it had one, so old clients see the same. */
const en = {
  bad_request: 'Bad request.',
  malformed_json: 'JSON parse error - the request body is not valid JSON.',
  payload_too_large: 'Request body is larger than {limit}.',
  body_not_object: 'Invalid data. Expected a dictionary, but got {got}.',
  not_authenticated: 'Authentication credentials were not provided.',
  permission_denied: 'You do not have permission to perform this action.',
  not_found: 'Not found.',
  route_not_found: 'The requested resource was not found on this server.',
  method_not_allowed: 'Method "{method}" not allowed.',
  not_acceptable: 'Could not satisfy the request Accept header.',
  unsupported_media_type: 'Unsupported media type "{mediaType}" in request.',
  throttled: 'Request was throttled. Expected available in {wait} seconds.',
  database_unavailable: 'The database is unavailable. Try again later.',
  conflict: 'The request conflicts with the current state of the resource.',
  service_unavailable: 'A service is unavailable. Try again later.',
  body_encoding_invalid: 'The request body does not match its Content-Encoding.',
  headers_too_large: 'Request header fields are too large.',
  request_timeout: 'The request did not arrive in time.',
  upstream_timeout: 'A service did not answer in time. Try again later.',
  bad_gateway: 'A service answered with an invalid response.',
  internal_error: 'A server error occurred.',
  dependency_down: 'Not reachable.',
  host_not_allowed: 'Invalid host header.',
  // field validation
  required: 'This field is required.',
  null_not_allowed: 'This field may not be null.',
  blank: 'This field may not be blank.',
  null_character: 'Null characters are not allowed.',
  max_length: 'Ensure this field has no more than {max} characters.',
  min_length: 'Ensure this field has at least {min} characters.',
  max_value: 'Ensure this value is less than or equal to {max}.',
  min_value: 'Ensure this value is greater than or equal to {min}.',
  invalid_string: 'Not a valid string.',
  invalid_integer: 'A valid integer is required.',
  invalid_number: 'A valid number is required.',
  invalid_boolean: 'Must be a valid boolean.',
  invalid_choice: '"{value}" is not a valid choice.',
  invalid_email: 'Enter a valid email address.',
  invalid_url: 'Enter a valid URL.',
  invalid_datetime: 'Datetime has wrong format.',
  invalid_value: 'Invalid value.',
};

const ko = {
  bad_request: '잘못된 요청입니다.',
  malformed_json: 'JSON 구문 오류 - 요청 본문이 올바른 JSON이 아닙니다.',
  payload_too_large: '요청 본문이 {limit}보다 큽니다.',
  body_not_object: '유효하지 않은 데이터입니다. 딕셔너리가 필요하지만 {got}을(를) 받았습니다.',
  not_authenticated: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.',
  permission_denied: '이 작업을 수행할 권한(permission)이 없습니다.',
  not_found: '찾을 수 없습니다.',
  route_not_found: '요청한 리소스를 이 서버에서 찾을 수 없습니다.',
  method_not_allowed: '메소드(Method) "{method}"는 허용되지 않습니다.',
  not_acceptable: 'Accept 헤더 요청을 만족할 수 없습니다.',
  unsupported_media_type: '요청된 "{mediaType}"에 지원되지 않는 미디어 형태입니다.',
  throttled: '요청이 지연(throttled)되었습니다. {wait}초 후에 다시 시도하십시오.',
  database_unavailable: '데이터베이스를 사용할 수 없습니다. 나중에 다시 시도하십시오.',
  conflict: '요청이 리소스의 현재 상태와 충돌합니다.',
  service_unavailable: '서비스를 사용할 수 없습니다. 나중에 다시 시도하십시오.',
  body_encoding_invalid: '요청 본문이 Content-Encoding과 맞지 않습니다.',
  headers_too_large: '요청 헤더가 너무 큽니다.',
  request_timeout: '요청이 제시간에 도착하지 않았습니다.',
  upstream_timeout: '서비스가 제시간에 응답하지 않았습니다. 나중에 다시 시도하십시오.',
  bad_gateway: '서비스가 잘못된 응답을 보냈습니다.',
  internal_error: '서버 오류가 발생했습니다.',
  dependency_down: '연결할 수 없습니다.',
  host_not_allowed: '유효하지 않은 호스트 헤더입니다.',
  required: '이 필드는 필수 항목입니다.',
  null_not_allowed: '이 필드는 null일 수 없습니다.',
  blank: '이 필드는 blank일 수 없습니다.',
  null_character: '널(null) 문자는 허용되지 않습니다.',
  max_length: '이 필드의 글자 수가 {max} 이하인지 확인하십시오.',
  min_length: '이 필드의 글자 수가 적어도 {min} 이상인지 확인하십시오.',
  max_value: '이 값이 {max}보다 작거나 같은지 확인하십시오.',
  min_value: '이 값이 {min}보다 크거나 같은지 확인하십시오.',
  invalid_string: '유효한 문자열이 아닙니다.',
  invalid_integer: '유효한 정수(integer)를 넣어주세요.',
  invalid_number: '유효한 숫자를 넣어주세요.',
  invalid_boolean: '유효한 불리언(boolean)이어야 합니다.',
  invalid_choice: '"{value}"이 유효하지 않은 선택(choice)입니다.',
  invalid_email: '유효한 이메일 주소를 입력하십시오.',
  invalid_url: '유효한 URL을 입력하십시오.',
  invalid_datetime: 'Datetime의 포맷이 잘못되었습니다.',
  invalid_value: '유효하지 않은 값입니다.',
};

/** The texts of libs/web itself: requests, bodies, field validation, dependencies. */
export const webMessages = defineMessages({ en, ko });

/** Every text registered so far, by language; libs/web's own from the start. */
const registered: Record<Language, Map<string, string>> = {
  en: new Map(Object.entries(webMessages.en)),
  ko: new Map(Object.entries(webMessages.ko)),
};

/**
 * Adds a service's or library's texts to the ones errors are translated with (createHttpApp's
 * `messages` does it at start-up). Registering the same text again is harmless; another text
 * under a key already registered throws, so two owners of one key are found at once.
 */
export function registerMessages(...catalogs: MessageCatalog[]): void {
  for (const catalog of catalogs) {
    for (const language of LANGUAGES) {
      for (const [key, text] of Object.entries(catalog[language])) {
        const existing = registered[language].get(key);
        if (existing !== undefined && existing !== text) {
          throw new Error(`message ${key} is registered already with another ${language} text`);
        }
      }
    }
    for (const language of LANGUAGES) {
      for (const [key, text] of Object.entries(catalog[language])) registered[language].set(key, text);
    }
  }
}

/** `Accept-Language: ko` (or ko-KR, or ko with a higher q than en) selects Korean; all else English. */
export function pickLanguage(acceptLanguage: string | undefined): Language {
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.toLowerCase(), q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { tag } of ranked) {
    if (tag === 'ko' || tag.startsWith('ko-')) return 'ko';
    if (tag === 'en' || tag.startsWith('en-')) return 'en';
  }
  return 'en';
}

export function translate(message: MessageRef, language: Language): string {
  const template = registered[language].get(message.key) ?? registered.en.get(message.key) ?? message.key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    message.params && name in message.params ? String(message.params[name]) : whole,
  );
}

/** Whether `key` has a text: a zod issue whose message is a key is reported as that message. */
export function hasMessage(key: string): boolean {
  return registered.en.has(key);
}
