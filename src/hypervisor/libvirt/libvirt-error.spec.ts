import { LIBVIRT } from './libvirt-constants.js';
import {
  LibvirtError,
  hasLibvirtCode,
  isAlreadyExists,
  isConnectionError,
  isLibvirtError,
  isNotFound,
  isOperationInvalid,
  isUnsupported,
  toLibvirtError,
} from './libvirt-error.js';

const err = (code: number, domain: number = LIBVIRT.VIR_FROM_NONE, message = 'm'): LibvirtError =>
  new LibvirtError(code, domain, message, 'op');

describe('LibvirtError', () => {
  it('keeps code, domain, libvirt message and operation', () => {
    const e = err(
      LIBVIRT.VIR_ERR_NO_DOMAIN,
      LIBVIRT.VIR_FROM_QEMU,
      "Domain not found: no domain with matching name 'x'",
    );
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('LibvirtError');
    expect(e.message).toBe("op: Domain not found: no domain with matching name 'x'");
    expect(e).toMatchObject({ code: 42, domain: LIBVIRT.VIR_FROM_QEMU, operation: 'op' });
    expect(new LibvirtError(1, 0, 'raw', '').message).toBe('raw');
  });

  it('toLibvirtError converts native rejections and passes other values through', () => {
    const native = Object.assign(new Error('x'), {
      isLibvirtError: true as const,
      code: 43,
      domain: 19,
      libvirtMessage: 'Network not found',
    });
    const converted = toLibvirtError(native, 'lookupNetwork');
    expect(converted).toBeInstanceOf(LibvirtError);
    expect(converted).toMatchObject({
      code: 43,
      domain: 19,
      libvirtMessage: 'Network not found',
      operation: 'lookupNetwork',
    });
    const typeError = new TypeError('name must be a string');
    expect(toLibvirtError(typeError, 'x')).toBe(typeError);
    expect(toLibvirtError('text', 'x')).toBe('text');
    expect(toLibvirtError({ code: 1 }, 'x')).toEqual({ code: 1 });
    const already = err(1);
    expect(toLibvirtError(already, 'other')).toBe(already);
  });

  it('classifies errors', () => {
    expect(isLibvirtError(err(1))).toBe(true);
    expect(isLibvirtError(new Error('x'))).toBe(false);
    expect(hasLibvirtCode(err(9), 8, 9)).toBe(true);
    expect(hasLibvirtCode(new Error('x'), 9)).toBe(false);

    for (const code of [
      LIBVIRT.VIR_ERR_NO_DOMAIN,
      LIBVIRT.VIR_ERR_NO_NETWORK,
      LIBVIRT.VIR_ERR_NO_STORAGE_POOL,
      LIBVIRT.VIR_ERR_NO_STORAGE_VOL,
    ]) {
      expect(isNotFound(err(code))).toBe(true);
    }
    expect(isNotFound(err(LIBVIRT.VIR_ERR_OPERATION_INVALID))).toBe(false);

    expect(isAlreadyExists(err(LIBVIRT.VIR_ERR_DOM_EXIST))).toBe(true);
    expect(isAlreadyExists(err(LIBVIRT.VIR_ERR_STORAGE_VOL_EXIST))).toBe(true);
    expect(
      isAlreadyExists(
        err(LIBVIRT.VIR_ERR_OPERATION_FAILED, 18, "operation failed: pool 'p' already exists with uuid u"),
      ),
    ).toBe(true);
    expect(isAlreadyExists(err(LIBVIRT.VIR_ERR_OPERATION_FAILED, 18, 'operation failed: disk full'))).toBe(false);

    expect(isOperationInvalid(err(LIBVIRT.VIR_ERR_OPERATION_INVALID))).toBe(true);
    expect(isUnsupported(err(LIBVIRT.VIR_ERR_NO_SUPPORT))).toBe(true);
    expect(isUnsupported(err(LIBVIRT.VIR_ERR_OPERATION_UNSUPPORTED))).toBe(true);
    expect(isUnsupported(err(LIBVIRT.VIR_ERR_INVALID_ARG))).toBe(false);

    expect(isConnectionError(err(LIBVIRT.VIR_ERR_INVALID_CONN))).toBe(true);
    expect(isConnectionError(err(LIBVIRT.VIR_ERR_NO_CONNECT))).toBe(true);
    expect(isConnectionError(err(LIBVIRT.VIR_ERR_SYSTEM_ERROR, LIBVIRT.VIR_FROM_RPC))).toBe(true);
    expect(
      isConnectionError(err(LIBVIRT.VIR_ERR_INTERNAL_ERROR, LIBVIRT.VIR_FROM_RPC, 'client socket is closed')),
    ).toBe(true);
    expect(isConnectionError(err(LIBVIRT.VIR_ERR_SYSTEM_ERROR, LIBVIRT.VIR_FROM_STORAGE))).toBe(false);
    expect(isConnectionError(err(LIBVIRT.VIR_ERR_NO_DOMAIN))).toBe(false);
  });
});
