import { describe, expect, it } from 'vitest';
import { busId, cell, flag, int, num } from '../../server/monitor/sources/gpu/values.ts';

describe('gpu null-cell rule', () => {
  const absent = [
    '[N/A]', '[Not Supported]', '[Unknown Error]', '[Insufficient Permissions]', '[Requested functionality has been deprecated]',
    '[Function Not Found]', 'N/A', 'Requested functionality has been deprecated', 'Not Found', 'Not available in WDDM driver model', '', '   ',
  ];
  it.each(absent)('%j is null as text and as number', (raw) => {
    expect(cell(raw)).toBeNull();
    expect(num(raw)).toBeNull();
    expect(int(raw)).toBeNull();
  });
  it('reads numbers with or without units, never NaN', () => {
    expect(num('81559')).toBe(81559);
    expect(num('81559 MiB')).toBe(81559);
    expect(num('433.78 W')).toBe(433.78);
    expect(num('38 %')).toBe(38);
    expect(num('-7 C')).toBe(-7);
    expect(num('16x')).toBe(16);
    expect(num('96 bank(s)')).toBe(96);
    expect(num('0x0000000000000001')).toBeNull();
    expect(num('P0')).toBeNull();
    expect(num('1.2.3')).toBeNull();
    expect(num(undefined)).toBeNull();
    expect(int('12.5')).toBeNull();
    expect(int('21180')).toBe(21180);
  });
  it('keeps text, trimmed', () => {
    expect(cell(' NVIDIA H100 80GB HBM3 ')).toBe('NVIDIA H100 80GB HBM3');
    expect(cell('P0')).toBe('P0');
  });
  it('reads Enabled/Disabled and Active/Not Active', () => {
    expect(flag('Enabled')).toBe(true);
    expect(flag('Disabled')).toBe(false);
    expect(flag('Active')).toBe(true);
    expect(flag('Not Active')).toBe(false);
    expect(flag('[N/A]')).toBeNull();
  });
  it('spells PCI bus ids one way (handle errors print a 4-digit domain)', () => {
    expect(busId('0000:0B:00.0')).toBe('00000000:0B:00.0');
    expect(busId('00000000:0b:00.0')).toBe('00000000:0B:00.0');
    expect(busId('1580:00:00.0')).toBe('00001580:00:00.0');
    expect(busId('[N/A]')).toBeNull();
  });
});
