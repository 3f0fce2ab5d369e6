import { describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { startMemoryTrim } from './memory-trim.js';

describe('startMemoryTrim', () => {
  const logger = pino({ level: 'silent' });

  it('trims at once and then every interval, until stopped', () => {
    jest.useFakeTimers();
    try {
      const trim = jest.fn(() => true);
      const stop = startMemoryTrim(1000, logger, trim);
      expect(trim).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(3000);
      expect(trim).toHaveBeenCalledTimes(4);
      stop();
      jest.advanceTimersByTime(3000);
      expect(trim).toHaveBeenCalledTimes(4);
    } finally {
      jest.useRealTimers();
    }
  });

  it('never trims with an interval of 0, and gives up when the addon cannot be loaded', () => {
    const trim = jest.fn(() => true);
    startMemoryTrim(0, logger, trim);
    expect(trim).not.toHaveBeenCalled();
    const failing = jest.fn((): boolean => {
      throw new Error('addon not built');
    });
    jest.useFakeTimers();
    try {
      startMemoryTrim(1000, logger, failing);
      jest.advanceTimersByTime(5000);
      expect(failing).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
