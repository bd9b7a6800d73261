import { defineMessages } from '@imm/web';

/**
 * The texts of the auth service's own message keys (its rules, its schemas), in the Django
 * service's wording where it had one; registered with the app (app.ts).
 */
export const authMessages = defineMessages({
  en: {
    invalid_credentials: 'No active account found with the given credentials',
    user_inactive: 'User is inactive',
    user_not_found: 'User not found',
    password_work_busy: 'Too many sign-ins and sign-ups at once. Try again in a moment.',
    password_incorrect: 'Your old password was entered incorrectly. Please enter it again.',
    invalid_username: 'Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.',
    username_taken: 'A user with that username already exists.',
    email_taken: 'A user with that email already exists.',
    password_too_short: 'This password is too short. It must contain at least 8 characters.',
    password_too_long: 'This password is too long. It must contain at most 72 bytes.',
    password_entirely_numeric: 'This password is entirely numeric.',
    password_same_as_username: 'The password is too similar to the username.',
  },
  ko: {
    invalid_credentials: '지정된 자격 증명에 해당하는 활성화된 사용자를 찾을 수 없습니다',
    user_inactive: '비활성화된 사용자입니다',
    user_not_found: '사용자를 찾을 수 없습니다',
    password_work_busy: '로그인과 가입 요청이 너무 많습니다. 잠시 후 다시 시도하십시오.',
    password_incorrect: '기존 비밀번호가 올바르지 않습니다. 다시 입력하십시오.',
    invalid_username: '유효한 사용자 이름을 입력하십시오. 문자, 숫자, @/./+/-/_ 만 사용할 수 있습니다.',
    username_taken: '해당 사용자 이름은 이미 존재합니다.',
    email_taken: '해당 이메일을 사용하는 사용자가 이미 존재합니다.',
    password_too_short: '비밀번호가 너무 짧습니다. 최소 8 문자를 포함해야 합니다.',
    password_too_long: '비밀번호가 너무 깁니다. 최대 72 바이트까지 사용할 수 있습니다.',
    password_entirely_numeric: '비밀번호가 전부 숫자로 되어 있습니다.',
    password_same_as_username: '비밀번호가 사용자 이름와 너무 유사합니다.',
  },
});
