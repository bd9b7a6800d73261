import { describe, expect, it } from 'vitest';
import {
  catalogProblems,
  defineMessages,
  hasMessage,
  type MessageCatalog,
  registerMessages,
  translate,
  webMessages,
} from '../src/index';

describe('message catalogs', () => {
  it("gives every one of libs/web's keys an English and a Korean text with the same placeholders", () => {
    expect(Object.keys(webMessages.en).length).toBeGreaterThan(30);
    expect(catalogProblems(webMessages)).toEqual([]);
  });

  it('finds keys without a text, empty texts and placeholders that differ', () => {
    // Casts: what the types refuse to compile is what the run-time check exists for.
    const broken = {
      en: { one: 'One', two: 'Two {n}', three: 'Three' },
      ko: { one: '하나', two: '둘 {m}', three: ' ' },
    } as unknown as MessageCatalog;
    expect(catalogProblems(broken)).toEqual([
      'two has different placeholders across languages',
      'three has an empty ko text',
    ]);
    const missing = { en: { one: 'One', two: 'Two' }, ko: { one: '하나', four: '넷' } } as unknown as MessageCatalog;
    expect(catalogProblems(missing)).toEqual(['two has no ko text', 'four has no en text']);
    expect(() => defineMessages(missing as never)).toThrow('two has no ko text; four has no en text');
  });
});

describe('registerMessages', () => {
  const plant = defineMessages({
    en: { mold_missing: 'Mold {mold} is not mounted.' },
    ko: { mold_missing: '금형 {mold}이(가) 장착되어 있지 않습니다.' },
  });

  it("translates a service's keys once registered, in either language, and libs/web's all along", () => {
    expect(hasMessage('mold_missing')).toBe(false);
    expect(translate({ key: 'mold_missing' }, 'en')).toBe('mold_missing');
    expect(hasMessage('required')).toBe(true);

    registerMessages(plant);
    registerMessages(plant); // at every start of an app in the same process: harmless
    expect(hasMessage('mold_missing')).toBe(true);
    expect(translate({ key: 'mold_missing', params: { mold: 'M-7' } }, 'en')).toBe('Mold M-7 is not mounted.');
    expect(translate({ key: 'mold_missing', params: { mold: 'M-7' } }, 'ko')).toBe(
      '금형 M-7이(가) 장착되어 있지 않습니다.',
    );
    expect(translate({ key: 'required' }, 'ko')).toBe('이 필드는 필수 항목입니다.');
  });

  it('refuses another text for a key already registered, and then registers nothing of that catalog', () => {
    const clash = defineMessages({
      en: { heater_cold: 'The heater is cold.', required: 'Needed.' },
      ko: { heater_cold: '히터가 차갑습니다.', required: '필요합니다.' },
    });
    expect(() => registerMessages(clash)).toThrow('message required is registered already with another en text');
    expect(hasMessage('heater_cold')).toBe(false);
    expect(translate({ key: 'required' }, 'en')).toBe('This field is required.');
  });
});
