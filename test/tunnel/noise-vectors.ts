// Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s from the cacophony test vectors
// (vectors/cacophony.txt, as shipped in mcginty/snow tests/vectors/cacophony.txt).
// Messages alternate initiator / responder, including the transport messages
// after the handshake (3: responder, 4: initiator, 5: responder).
export const XXPSK3_VECTOR = {
  protocol_name: 'Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s',
  prologue: '4a6f686e2047616c74',
  psk: '54686973206973206d7920417573747269616e20706572737065637469766521',
  init_static: 'e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1',
  init_ephemeral: '893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a',
  resp_static: '4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893',
  resp_ephemeral: 'bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b',
  handshake_hash: 'fb53c8c7b9c131a38ea652f63025a7609f181d44630845d00c4f27dd0d120353',
  messages: [
    {
      payload: '4c756477696720766f6e204d69736573',
      ciphertext: 'ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c7944325ea71699951ece20f284b6ad9604a029eb335bf84564c308b6ade90ae45078',
    },
    {
      payload: '4d757272617920526f746862617264',
      ciphertext:
        '95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f1448088432645535233ffe1432564d66a85227b677ced6fc2730ae0998ff49aa1dc56b8186e31b16e416f5d9c03c71f6c34fd37ec013105020070a8b00c000ce7ed56629c119795f96463274bc05519d5c24dc1',
    },
    {
      payload: '462e20412e20486179656b',
      ciphertext:
        'adf16c5375ec4172576783fd59f2bfa5c7a320d0a13b759592e1a2ddf5524cce59ccbb92ff5d321fced3bdb2840596df562c0e68aad41b090abd285f6d300130072e06964a6ba494e58d47',
    },
    { payload: '4361726c204d656e676572', ciphertext: 'dcdc045c8e9ec36c8ea4078552e5849f87cb9bdfbd2a4eee3baaf6' },
    { payload: '4a65616e2d426170746973746520536179', ciphertext: '4d11ed1f242e199dbcbc9773495834a95e8a6109e2b555aeb50780e69b152821e4' },
    { payload: '457567656e2042f6686d20766f6e2042617765726b', ciphertext: '4d1e6873ffcc88490be6914928590f63253c2db434f1f206f083f89ca559a3e60a8dcc4f12' },
  ],
} as const;
