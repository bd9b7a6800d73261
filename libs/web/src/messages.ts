import type { MessageRef } from '@imm/errors';

export type Language = 'en' | 'ko';

type Catalog = Record<string, string>;

/** English texts follow the Django service's wording where it had one, so old clients see the same. */
const en: Catalog = {
  bad_request: 'Bad request.',
  malformed_json: 'JSON parse error - the request body is not valid JSON.',
  payload_too_large: 'Request body is larger than {limit}.',
  body_not_object: 'Invalid data. Expected a dictionary, but got {got}.',
  not_authenticated: 'Authentication credentials were not provided.',
  token_invalid: 'Given token not valid for any token type',
  token_not_access: 'Token has wrong type',
  token_expired: 'Token is invalid or expired',
  token_revoked: 'Token is blacklisted',
  invalid_credentials: 'No active account found with the given credentials',
  user_inactive: 'User is inactive',
  user_not_found: 'User not found',
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
  password_work_busy: 'Too many sign-ins and sign-ups at once. Try again in a moment.',
  body_encoding_invalid: 'The request body does not match its Content-Encoding.',
  headers_too_large: 'Request header fields are too large.',
  request_timeout: 'The request did not arrive in time.',
  password_incorrect: 'Your old password was entered incorrectly. Please enter it again.',
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
  invalid_username: 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
  username_taken: 'A user with that username already exists.',
  email_taken: 'A user with that email already exists.',
  password_too_short: 'This password is too short. It must contain at least 8 characters.',
  password_too_long: 'This password is too long. It must contain at most 72 bytes.',
  password_entirely_numeric: 'This password is entirely numeric.',
  password_same_as_username: 'The password is too similar to the username.',
};

const ko: Catalog = {
  bad_request: '잘못된 요청입니다.',
  malformed_json: 'JSON 구문 오류 - 요청 본문이 올바른 JSON이 아닙니다.',
  payload_too_large: '요청 본문이 {limit}보다 큽니다.',
  body_not_object: '유효하지 않은 데이터입니다. 딕셔너리가 필요하지만 {got}을(를) 받았습니다.',
  not_authenticated: '자격 인증데이터(authentication credentials)가 제공되지 않았습니다.',
  token_invalid: '이 토큰은 모든 타입의 토큰에 대해 유효하지 않습니다',
  token_not_access: '토큰의 타입이 잘못되었습니다',
  token_expired: '유효하지 않거나 만료된 토큰입니다',
  token_revoked: '블랙리스트에 추가된 토큰입니다',
  invalid_credentials: '지정된 자격 증명에 해당하는 활성화된 사용자를 찾을 수 없습니다',
  user_inactive: '비활성화된 사용자입니다',
  user_not_found: '사용자를 찾을 수 없습니다',
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
  password_work_busy: '로그인과 가입 요청이 너무 많습니다. 잠시 후 다시 시도하십시오.',
  body_encoding_invalid: '요청 본문이 Content-Encoding과 맞지 않습니다.',
  headers_too_large: '요청 헤더가 너무 큽니다.',
  request_timeout: '요청이 제시간에 도착하지 않았습니다.',
  password_incorrect: '기존 비밀번호가 올바르지 않습니다. 다시 입력하십시오.',
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
  invalid_username: '유효한 사용자 이름을 입력하십시오. 문자, 숫자, @/./+/-/_ 만 사용할 수 있습니다.',
  username_taken: '해당 사용자 이름은 이미 존재합니다.',
  email_taken: '해당 이메일을 사용하는 사용자가 이미 존재합니다.',
  password_too_short: '비밀번호가 너무 짧습니다. 최소 8 문자를 포함해야 합니다.',
  password_too_long: '비밀번호가 너무 깁니다. 최대 72 바이트까지 사용할 수 있습니다.',
  password_entirely_numeric: '비밀번호가 전부 숫자로 되어 있습니다.',
  password_same_as_username: '비밀번호가 사용자 이름와 너무 유사합니다.',
};

const catalogs: Record<Language, Catalog> = { en, ko };

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
  const template = catalogs[language][message.key] ?? en[message.key] ?? message.key;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    message.params && name in message.params ? String(message.params[name]) : whole,
  );
}

export function hasMessage(key: string): boolean {
  return key in en;
}
