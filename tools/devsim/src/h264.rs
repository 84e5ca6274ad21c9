//! A tiny H.264 "encoder" for the native camera's video: every frame is one IDR picture of
//! I_PCM macroblocks (raw samples, no prediction, no transform), which needs no entropy
//! tables at all, only exp-Golomb headers, yet any H.264 decoder plays it. The price is
//! size (384 bytes per 16×16 macroblock), fine for a small test picture on loopback. Pure:
//! pictures in, Annex B byte streams out (SPS, PPS and the slice, with start codes).

/// A picture in YUV 4:2:0, planar; width and height are multiples of 16.
pub struct Yuv {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Yuv {
    /// A picture filled with one colour.
    pub fn new(width: usize, height: usize, (y, u, v): (u8, u8, u8)) -> Yuv {
        assert!(width % 16 == 0 && height % 16 == 0 && width > 0 && height > 0);
        Yuv {
            width,
            height,
            y: vec![y; width * height],
            u: vec![u; width * height / 4],
            v: vec![v; width * height / 4],
        }
    }

    /// Paints the rectangle `[x0, x1) × [y0, y1)` (clipped to the picture).
    pub fn fill(
        &mut self,
        (x0, y0, x1, y1): (usize, usize, usize, usize),
        (y, u, v): (u8, u8, u8),
    ) {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        for row in y0..y1 {
            for col in x0..x1 {
                self.y[row * self.width + col] = y;
                self.u[(row / 2) * (self.width / 2) + col / 2] = u;
                self.v[(row / 2) * (self.width / 2) + col / 2] = v;
            }
        }
    }
}

/// MSB-first bit writer for RBSP data.
struct Bits {
    out: Vec<u8>,
    cur: u8,
    n: u8,
}

impl Bits {
    fn new() -> Bits {
        Bits {
            out: Vec::new(),
            cur: 0,
            n: 0,
        }
    }

    fn bit(&mut self, b: bool) {
        self.cur = (self.cur << 1) | u8::from(b);
        self.n += 1;
        if self.n == 8 {
            self.out.push(self.cur);
            self.cur = 0;
            self.n = 0;
        }
    }

    /// The low `n` bits of `v`, most significant first.
    fn bits(&mut self, v: u32, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// ue(v): unsigned exp-Golomb.
    fn ue(&mut self, v: u32) {
        let x = v + 1;
        let len = 32 - x.leading_zeros();
        self.bits(0, len - 1);
        self.bits(x, len);
    }

    /// se(v): signed exp-Golomb.
    fn se(&mut self, v: i32) {
        let k = if v > 0 {
            2 * v.unsigned_abs() - 1
        } else {
            2 * v.unsigned_abs()
        };
        self.ue(k);
    }

    fn align_zero(&mut self) {
        while self.n != 0 {
            self.bit(false);
        }
    }

    /// A whole byte; only at a byte boundary.
    fn byte(&mut self, b: u8) {
        debug_assert_eq!(self.n, 0);
        self.out.push(b);
    }

    /// rbsp_trailing_bits: a stop bit, then zeros to the byte boundary.
    fn finish(mut self) -> Vec<u8> {
        self.bit(true);
        self.align_zero();
        self.out
    }
}

/// Appends one NAL unit with its start code, escaping `00 00 0x` (x ≤ 3) as the byte
/// stream format requires (emulation prevention).
fn nal(out: &mut Vec<u8>, header: u8, rbsp: &[u8]) {
    out.extend_from_slice(&[0, 0, 0, 1, header]);
    let mut zeros = 0;
    for &b in rbsp {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
}

/// Constrained Baseline, level 3.1: profile-level-id 42e01f, what browsers offer first.
const PROFILE_IDC: u32 = 66;
const CONSTRAINT_FLAGS: u32 = 0xe0;
const LEVEL_IDC: u32 = 31;

fn sps(width_mbs: u32, height_mbs: u32) -> Vec<u8> {
    let mut b = Bits::new();
    b.bits(PROFILE_IDC, 8);
    b.bits(CONSTRAINT_FLAGS, 8);
    b.bits(LEVEL_IDC, 8);
    b.ue(0); // seq_parameter_set_id
    b.ue(0); // log2_max_frame_num_minus4
    b.ue(2); // pic_order_cnt_type: output order = decoding order
    b.ue(1); // max_num_ref_frames
    b.bit(false); // gaps_in_frame_num_value_allowed_flag
    b.ue(width_mbs - 1);
    b.ue(height_mbs - 1);
    b.bit(true); // frame_mbs_only_flag
    b.bit(true); // direct_8x8_inference_flag
    b.bit(false); // frame_cropping_flag
    b.bit(false); // vui_parameters_present_flag
    b.finish()
}

fn pps() -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // pic_parameter_set_id
    b.ue(0); // seq_parameter_set_id
    b.bit(false); // entropy_coding_mode_flag: CAVLC
    b.bit(false); // bottom_field_pic_order_in_frame_present_flag
    b.ue(0); // num_slice_groups_minus1
    b.ue(0); // num_ref_idx_l0_default_active_minus1
    b.ue(0); // num_ref_idx_l1_default_active_minus1
    b.bit(false); // weighted_pred_flag
    b.bits(0, 2); // weighted_bipred_idc
    b.se(0); // pic_init_qp_minus26
    b.se(0); // pic_init_qs_minus26
    b.se(0); // chroma_qp_index_offset
    b.bit(true); // deblocking_filter_control_present_flag
    b.bit(false); // constrained_intra_pred_flag
    b.bit(false); // redundant_pic_cnt_present_flag
    b.finish()
}

/// mb_type of I_PCM in an I slice.
const I_PCM: u32 = 25;

fn idr_slice(pic: &Yuv, idr_pic_id: u32) -> Vec<u8> {
    let mut b = Bits::new();
    b.ue(0); // first_mb_in_slice
    b.ue(7); // slice_type: I, and so are all slices of the picture
    b.ue(0); // pic_parameter_set_id
    b.bits(0, 4); // frame_num (an IDR's is 0)
    b.ue(idr_pic_id);
    b.bit(false); // no_output_of_prior_pics_flag
    b.bit(false); // long_term_reference_flag
    b.se(0); // slice_qp_delta
    b.ue(1); // disable_deblocking_filter_idc: off, samples are exact
    let (w, cw) = (pic.width, pic.width / 2);
    for mby in 0..pic.height / 16 {
        for mbx in 0..pic.width / 16 {
            b.ue(I_PCM);
            b.align_zero(); // pcm_alignment_zero_bit
            for row in 0..16 {
                for col in 0..16 {
                    b.byte(pic.y[(mby * 16 + row) * w + mbx * 16 + col]);
                }
            }
            for plane in [&pic.u, &pic.v] {
                for row in 0..8 {
                    for col in 0..8 {
                        b.byte(plane[(mby * 8 + row) * cw + mbx * 8 + col]);
                    }
                }
            }
        }
    }
    b.finish()
}

/// One access unit: SPS, PPS and an IDR picture, in the Annex B byte stream format. Every
/// frame stands alone, so a lost one costs nothing but itself.
pub fn encode(pic: &Yuv, idr_pic_id: u32) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(pic.width * pic.height * 3 / 2 + pic.width * pic.height / 128 + 64);
    nal(
        &mut out,
        0x67,
        &sps((pic.width / 16) as u32, (pic.height / 16) as u32),
    );
    nal(&mut out, 0x68, &pps());
    // idr_pic_id differs between consecutive IDR pictures [H.264 7.4.3].
    nal(&mut out, 0x65, &idr_slice(pic, idr_pic_id % 2));
    out
}

/// The camera's test picture at `t` milliseconds: a dark background, a square bouncing
/// across it, and a bar that fills once a second.
pub fn test_card(width: usize, height: usize, t: u64) -> Yuv {
    let mut pic = Yuv::new(width, height, (40, 140, 120));
    let side = height / 4;
    let span_x = (width - side) as u64;
    let span_y = (height - side - 16) as u64;
    let bounce = |t: u64, span: u64| {
        let p = t % (2 * span);
        (if p < span { p } else { 2 * span - p }) as usize
    };
    let x = bounce(t / 8, span_x);
    let y = bounce(t / 12, span_y);
    pic.fill((x, y, x + side, y + side), (170, 180, 60));
    let bar = width * (t % 1000) as usize / 1000;
    pic.fill((0, height - 8, bar, height), (210, 110, 140));
    pic
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(stream: &[u8]) -> Vec<&[u8]> {
        let mut starts = Vec::new();
        for i in 0..stream.len().saturating_sub(3) {
            if stream[i..i + 4] == [0, 0, 0, 1] {
                starts.push(i + 4);
            }
        }
        starts
            .iter()
            .enumerate()
            .map(|(k, &s)| &stream[s..starts.get(k + 1).map_or(stream.len(), |n| n - 4)])
            .collect()
    }

    #[test]
    fn exp_golomb_codes() {
        let mut b = Bits::new();
        for v in [0, 1, 2, 3, 25] {
            b.ue(v);
        }
        b.se(-1);
        // 1 010 011 00100 000011010 011, then the stop bit and padding.
        assert_eq!(
            b.finish(),
            vec![0b1010_0110, 0b0100_0000, 0b1101_0011, 0b1000_0000]
        );
    }

    #[test]
    fn escapes_start_code_emulation() {
        let mut out = Vec::new();
        nal(&mut out, 0x65, &[0, 0, 1, 0, 0, 0, 0, 0, 3, 9]);
        assert_eq!(
            out,
            [0, 0, 0, 1, 0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3, 9]
        );
    }

    #[test]
    fn a_frame_is_sps_pps_and_an_idr_of_pcm_macroblocks() {
        let pic = test_card(176, 144, 1234);
        let stream = encode(&pic, 0);
        let nals = units(&stream);
        assert_eq!(nals.len(), 3);
        assert_eq!([nals[0][0], nals[1][0], nals[2][0]], [0x67, 0x68, 0x65]);
        // profile-level-id 42e01f.
        assert_eq!(&nals[0][1..4], &[0x42, 0xe0, 0x1f]);
        // 99 macroblocks of 384 samples, plus a few header bits each.
        let mbs = 11 * 9;
        assert!(
            nals[2].len() > mbs * 384 && nals[2].len() < mbs * 390,
            "{}",
            nals[2].len()
        );
        // The samples are in there, unescaped (none is below 16).
        assert!(pic.y.iter().chain(&pic.u).chain(&pic.v).all(|&s| s >= 16));
        let first_mb_luma = &pic.y[..16];
        assert!(nals[2].windows(16).any(|w| w == first_mb_luma));
        // The picture moves.
        assert_ne!(test_card(176, 144, 0).y, test_card(176, 144, 500).y);
    }
}
