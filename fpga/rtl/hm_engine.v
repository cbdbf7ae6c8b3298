// Packet engine: RPC header parser + dispatcher to per-function queues and
// the remote-memory engine, pipelined so that a new header beat is taken
// every cycle one is offered.
//
//   IN  : one input register; every accepted beat spends one cycle in it
//         before it is processed (the header's last beat is "decoded", a
//         payload beat is "executed"; at most one of the two per cycle).
//   DEC : every check of the specification, in order, on the whole header
//         (the first beat of a 64-bit header waits in hdr_lo); the
//         decision goes to the packet context. A header-only packet ends
//         here: an RPC commits (queue push) in this very cycle, so the
//         next packet's DEC, one cycle later at the earliest, sees it.
//   EXE : payload beats against the context (written through the write
//         register one cycle later, or kept as CAS operands, or drained);
//         the last beat ends the packet, an RPC commits.
//   RESP: the ended packet's response job: header beats, then READ data
//         (streamed from the RAM's read port) or the CAS value (read,
//         compare, write in its first two cycles); one silent cycle for a
//         suppressed response. One job at a time, in packet order.
//
// The input register holds (in_ready low) when the beat in it cannot be
// processed: a beat that ends a packet while RESP is still busy with the
// previous job, or a header while RESP still has memory accesses to make
// for an earlier packet (READ data not yet read, CAS not yet written), so
// memory sees every packet's accesses in packet order. Every packet ends
// at its `last` beat, so no input can hang the engine. The Rust cycle
// model (fpga/src/model/engine.rs) follows these rules cycle for cycle.
`default_nettype none

module hm_engine #(
    parameter integer DW = 64,
    parameter integer AW = 10
) (
    input  wire          clk,
    input  wire          rst,
    // Request stream.
    input  wire          in_valid,
    output wire          in_ready,
    input  wire [DW-1:0] in_data,
    input  wire          in_last,
    // Response stream.
    output wire          out_valid,
    input  wire          out_ready,
    output reg  [DW-1:0] out_data,
    output wire          out_last,
    // Configuration from the CSR block.
    input  wire          enable,
    input  wire [4:0]    slot_shift,
    output wire [15:0]   lk_conn,
    input  wire          conn_ok,
    input  wire          conn_rpc,
    input  wire          conn_mem,
    output wire [15:0]   lk_func_s,
    input  wire          func_ok,
    output wire [15:0]   lk_func,
    input  wire [7:0]    sel_queue,
    input  wire          q_full,
    input  wire [7:0]    q_tail,
    input  wire [AW-1:0] q_taddr,  // the chosen queue's tail slot
    output wire [7:0]    lk_region,
    input  wire          reg_ok,
    input  wire          reg_r,
    input  wire          reg_w,
    input  wire          reg_a,
    input  wire [AW-1:0] reg_base,
    input  wire [AW:0]   reg_size,
    // Events to the CSR block.
    output wire          ev_commit,
    output wire [15:0]   ev_func,
    output wire [7:0]    ev_queue,
    output wire          ev_done,
    output wire [7:0]    ev_op,
    output wire [7:0]    ev_status,
    output wire          ev_suppressed,
    output reg           ev_swapped,
    output wire          idle,
    // Memory: one write port, one read port (simple dual-port RAM).
    output wire          mem_we,
    output wire [AW-1:0] mem_waddr,
    output wire [DW-1:0] mem_wdata,
    output wire          mem_re,
    output wire [AW-1:0] mem_raddr,
    input  wire [DW-1:0] mem_q
);
`include "generated/hm_defs.vh"

    localparam integer B = DW / 8;
    localparam integer LB = $clog2(B);
    localparam integer HB = (DW >= 128) ? 1 : 128 / DW;
    localparam integer HBW = (HB > 1) ? $clog2(HB) : 1;
    localparam integer LANES = B / 8;
    localparam integer LW = (LANES > 1) ? $clog2(LANES) : 1;
    // Payload beat counts of a packet that passed DEC fit in EW bits (RPC:
    // < 2^16, WRITE: <= 2^AW, CAS: 2); the count saturates below 2^EW.
    localparam integer EW = (AW + 2 > 17) ? AW + 2 : 17;
    // Response beats of an OK READ: H + up to 2^AW data beats.
    localparam integer RW = AW + 2;
    localparam [EW-1:0] CAS_BEATS = (DW >= 128) ? 1 : 2;
    localparam [33:0] MEM_WORDS = 34'd1 << AW;
    localparam integer BM1 = B - 1;
    localparam integer HBM1 = HB - 1;
    localparam [23:0] WORD_MASK = BM1[23:0];
    localparam [HBW-1:0] HB_LAST = HBM1[HBW-1:0];
    localparam [RW-1:0] HB_LAST_R = HBM1[RW-1:0];
    localparam [RW-1:0] HB_R = HB[RW-1:0];

    localparam [1:0] K_HDR = 2'd0, K_DEC = 2'd1, K_PAY = 2'd2;

    // ---------------------------------------------------------------- IN
    reg           s_valid;
    reg [DW-1:0]  s_data;
    reg           s_last;
    reg [1:0]     s_kind;
    reg           s_trunc;
    reg [HBW-1:0] hcnt;     // header beats of the packet being received
    reg           in_pay;   // the packet being received is past its header

    // ---------------------------------------------------------------- RESP
    reg           r_busy;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [127:0]   r_hdr;    // the request header (its flags are used when the job is taken)
    /* verilator lint_on UNUSEDSIGNAL */
    reg [7:0]     r_status;
    reg [7:0]     r_queue;
    reg [7:0]     r_slot;
    reg [AW-1:0]  r_addr;   // next READ word / the CAS word
    reg [LW-1:0]  r_lane;
    reg [127:0]   r_ops;    // CAS: expected (63:0), new (127:64)
    reg [63:0]    r_old;
    reg [RW-1:0]  r_cnt;    // response beats sent
    reg [RW-1:0]  r_lastb;  // index of the last response beat
    reg           r_mem;    // memory accesses still to make
    reg           r_casw;   // CAS: the read was made, compare/write now
    reg           r_sup;

    wire r_ok = r_status == HM_ST_OK;
    wire [7:0] r_op = r_hdr[HM_HDR_OP_LSB +: 8];
    wire r_is_read = r_op == HM_OP_READ;
    wire r_is_cas = r_op == HM_OP_CAS;
    wire r_hdr_phase = r_cnt < HB_R;
    assign out_valid = r_busy && !r_sup && (r_hdr_phase || !(r_is_cas && r_mem));
    assign out_last = r_cnt == r_lastb;
    wire out_fire = out_valid && out_ready;
    wire resp_end = r_busy && (r_sup || (out_fire && out_last));
    wire r_free = !r_busy || resp_end;

    // ---------------------------------------------------------------- hold
    wire d_act = s_valid && s_kind == K_DEC;
    wire x_act = s_valid && s_kind == K_PAY;
    wire ends = (d_act || x_act) && s_last;
    // A header's writes land a cycle after its DEC, so it may run while the
    // CAS write (r_casw) is being made, not before.
    wire hold = (d_act && r_mem && !r_casw) || (ends && !r_free);
    wire go = s_valid && !hold;
    assign in_ready = !s_valid || !hold;
    wire in_fire = in_valid && in_ready;

    // ---------------------------------------------------------------- IN: pre-decode
    // The checks against tables that only CSR writes change (connections,
    // function enables, regions, SLOT_SHIFT) and all header arithmetic are
    // made as the header's last beat is taken, into registers; DEC adds
    // the queue state (which the previous packet's commit may just have
    // changed) and picks the first failure. Same cycle counts, shorter
    // paths.
    reg [127:0] ahdr;  // the header as it completes with this beat
    generate
        if (DW >= 128) begin : g_wide_hdr
            always @* ahdr = in_data[127:0];
        end else begin : g_narrow_hdr
            reg [DW-1:0] hdr_lo;
            always @(posedge clk)
                if (in_fire && !in_pay && hcnt != HB_LAST && !in_last) hdr_lo <= in_data;
            // A truncated header is its first beat; the rest reads as 0.
            always @* ahdr = (hcnt != HB_LAST) ? {64'd0, in_data[63:0]} : {in_data, hdr_lo};
        end
    endgenerate

    wire [7:0]  a_op     = ahdr[HM_HDR_OP_LSB +: 8];
    wire [7:0]  a_flags  = ahdr[HM_HDR_FLAGS_LSB +: 8];
    wire [23:0] a_offset = ahdr[HM_HDR_OFFSET_LSB +: 24];
    wire [31:0] a_len    = ahdr[HM_HDR_LEN_LSB +: 32];
    wire a_rpc   = a_op == HM_OP_RPC;
    wire a_read  = a_op == HM_OP_READ;
    wire a_write = a_op == HM_OP_WRITE;
    wire a_cas   = a_op == HM_OP_CAS;

    assign lk_conn = ahdr[HM_HDR_CONN_LSB +: 16];
    assign lk_func_s = ahdr[HM_HDR_FUNC_LSB +: 16];
    assign lk_region = ahdr[HM_HDR_REGION_LSB +: 8];

    wire [32:0] len_beats = ({1'b0, a_len} + B - 1) >> LB;
    /* verilator lint_off UNUSEDSIGNAL */
    wire [32:0] big_beats = len_beats >> slot_shift;      // nonzero: more than a slot holds
    wire [23:0] off_in_word = a_offset & WORD_MASK;       // bits [LW+2:3]: the CAS lane
    wire [31:0] a_len_w = a_len >> LB;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [23:0] off_w = a_offset >> LB;
    wire [32:0] len_w = a_cas ? 33'd1 : {1'b0, a_len_w};
    // Bounds: a region is at most the memory (2^AW words), so an offset or
    // a length of 2^(AW+1) words or more is out of bounds whatever the
    // rest; below that the end fits AW+2 bits. Short adders, same result
    // as the full-width end > size || base + end > memory.
    wire        big_w = off_w[23:AW+1] != {(23-AW){1'b0}} || len_w[32:AW+1] != {(32-AW){1'b0}};
    wire [AW+1:0] end_w = {1'b0, off_w[AW:0]} + {1'b0, len_w[AW:0]};
    wire [AW+2:0] end_abs = {1'b0, end_w} + {3'd0, reg_base};
    wire a_bus_aligned = a_offset[LB-1:0] == {LB{1'b0}} && a_len[LB-1:0] == {LB{1'b0}};
    wire a_cas_aligned = a_offset[2:0] == 3'd0;

    reg [EW-1:0] a_expected;
    always @* begin
        a_expected = {EW{1'b0}};
        if (a_rpc) a_expected = len_beats[EW-1:0];
        else if (a_write) a_expected = len_w[EW-1:0];
        else if (a_cas) a_expected = CAS_BEATS;
    end

    // Registered with the header's last beat.
    reg [127:0]  s_hdr;
    reg          p_rpc, p_read, p_cas, p_badhdr, p_conn_ok, p_conn_perm, p_func_ok, p_rpc_big;
    reg          p_reg_ok, p_reg_perm, p_cas_len, p_misaligned, p_oob, p_promise;
    reg [EW-1:0] p_expected;
    reg [AW-1:0] p_mem_word;
    reg [LW-1:0] p_lane;
    reg [RW-1:0] p_read_lastb;
    always @(posedge clk) begin
        if (in_fire) begin
            s_hdr <= ahdr;
            p_rpc <= a_rpc;
            p_read <= a_read;
            p_cas <= a_cas;
            p_badhdr <= !(a_rpc || a_read || a_write || a_cas) || (a_flags & HM_FLAGS_RESERVED) != 8'd0;
            p_conn_ok <= conn_ok;
            p_conn_perm <= a_rpc ? conn_rpc : conn_mem;
            p_func_ok <= func_ok;
            p_rpc_big <= big_beats != 33'd0;
            p_reg_ok <= reg_ok;
            p_reg_perm <= a_read ? reg_r : a_write ? reg_w : reg_a;
            p_cas_len <= a_cas && a_len != HM_CAS_BYTES;
            p_misaligned <= a_cas ? !a_cas_aligned : !a_bus_aligned;
            p_oob <= big_w || end_w > {1'b0, reg_size} || end_abs > MEM_WORDS[AW+2:0];
            p_promise <= in_last && a_expected != {EW{1'b0}};
            p_expected <= a_expected;
            p_mem_word <= reg_base + off_w[AW-1:0];
            p_lane <= off_in_word[LW+2:3];
            p_read_lastb <= HB_LAST_R + a_len_w[RW-1:0];
        end
    end

    // ---------------------------------------------------------------- DEC
    wire [127:0] dhdr = s_hdr;
    wire [15:0]  h_func = dhdr[HM_HDR_FUNC_LSB +: 16];
    wire [15:0]  h_len16 = dhdr[HM_HDR_LEN_LSB +: 16];
    assign lk_func = h_func;
    wire [AW-1:0] rpc_slot_addr = q_taddr;

    reg [7:0] dec_status;
    always @* begin
        if (s_trunc) dec_status = HM_ST_TRUNCATED;
        else if (!enable) dec_status = HM_ST_DISABLED;
        else if (p_badhdr) dec_status = HM_ST_BAD_HEADER;
        else if (!p_conn_ok) dec_status = HM_ST_UNKNOWN_CONNECTION;
        else if (!p_conn_perm) dec_status = HM_ST_PERMISSION_DENIED;
        else if (p_rpc) begin
            if (!p_func_ok) dec_status = HM_ST_UNKNOWN_FUNCTION;
            else if (p_rpc_big) dec_status = HM_ST_BAD_LENGTH;
            else if (q_full) dec_status = HM_ST_QUEUE_FULL;
            else if (p_promise) dec_status = HM_ST_BAD_LENGTH;
            else dec_status = HM_ST_OK;
        end else begin
            if (!p_reg_ok) dec_status = HM_ST_UNKNOWN_REGION;
            else if (!p_reg_perm) dec_status = HM_ST_PERMISSION_DENIED;
            else if (p_cas_len) dec_status = HM_ST_BAD_LENGTH;
            else if (p_misaligned) dec_status = HM_ST_MISALIGNED;
            else if (p_oob) dec_status = HM_ST_OUT_OF_BOUNDS;
            // A header that ends its packet must not promise a payload.
            else if (p_promise) dec_status = HM_ST_BAD_LENGTH;
            else dec_status = HM_ST_OK;
        end
    end
    wire is_rpc = p_rpc;

    // ---------------------------------------------------------------- EXE
    // Packet context, written by DEC, used by the payload beats.
    reg [127:0]  c_hdr;
    reg [7:0]    c_status;
    // Payload beats still expected, and whether that is >= 1 / >= 2, kept
    // as flags so that a payload beat's end-of-packet status (and so the
    // RPC commit) needs no counter compare.
    reg [EW-1:0] c_rem;
    reg          c_more;
    reg          c_more2;
    reg          c_ok;      // c_status == OK
    reg [AW-1:0] c_waddr;
    reg [AW-1:0] c_addr;
    reg [LW-1:0] c_lane;
    reg [7:0]    c_slot;
    reg [7:0]    c_queue;
    reg [15:0]   c_func;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [63:0]   c_ops_lo;  // CAS expected value (64-bit paths only)
    reg [RW-1:0] c_read_lastb;
    /* verilator lint_on UNUSEDSIGNAL */

    wire [7:0] c_op = c_hdr[HM_HDR_OP_LSB +: 8];
    wire c_is_rpc = c_op == HM_OP_RPC;
    wire c_is_write = c_op == HM_OP_WRITE;
    wire c_is_read = c_op == HM_OP_READ;
    wire c_is_cas = c_op == HM_OP_CAS;
    wire pay_store = c_ok && c_more;
    wire [7:0] st_beat = (c_ok && !c_more) ? HM_ST_BAD_LENGTH : c_status;
    wire st_end_ok = c_ok && c_more && !c_more2;
    wire [7:0] st_end = (c_ok && c_more2) ? HM_ST_BAD_LENGTH : st_beat;
    wire [EW-1:0] rem_dec = c_rem - {{(EW-1){1'b0}}, c_more};
    wire rem_ge3 = c_rem[EW-1:2] != {(EW-2){1'b0}} || c_rem[1:0] == 2'd3;
    wire p_more = p_expected != {EW{1'b0}};
    wire p_more2 = p_expected[EW-1:1] != {(EW-1){1'b0}};
    // CAS operands with this beat: the last payload beat completes them.
    reg [127:0] ops_now;
    generate
        if (DW >= 128) begin : g_wide_ops
            always @* ops_now = s_data[127:0];
        end else begin : g_narrow_ops
            always @* ops_now = {s_data[63:0], c_ops_lo};
        end
    endgenerate

    // ---------------------------------------------------------------- end of a packet
    wire [127:0] e_hdr    = d_act ? dhdr : c_hdr;
    wire [7:0]   e_status = d_act ? dec_status : st_end;
    wire [7:0]   e_op     = e_hdr[HM_HDR_OP_LSB +: 8];
    wire [7:0]   e_flags  = e_hdr[HM_HDR_FLAGS_LSB +: 8];
    wire dec_ok = dec_status == HM_ST_OK;
    wire e_ok = d_act ? dec_ok : st_end_ok;
    wire e_rpc = d_act ? p_rpc : c_is_rpc;
    wire e_read = e_ok && (d_act ? p_read : c_is_read);
    wire e_cas = e_ok && (d_act ? p_cas : c_is_cas);
    // Index of the last response beat: header, then READ data or the CAS value.
    wire [RW-1:0] e_lastb = e_read ? (d_act ? p_read_lastb : c_read_lastb)
                          : e_cas ? HB_R : HB_LAST_R;

    assign ev_commit = go && ends && e_ok && e_rpc;
    assign ev_func = d_act ? h_func : c_func;
    assign ev_queue = d_act ? sel_queue : c_queue;

    // ---------------------------------------------------------------- memory
    // Writes from DEC (RPC descriptor) and EXE (payload) go through a write
    // register; the CAS write comes from RESP. They never coincide: a
    // header is held while RESP has memory accesses to make.
    reg          w_en;
    reg [AW-1:0] w_addr;
    reg [DW-1:0] w_data;

    reg [63:0] cur_lane;
    reg [DW-1:0] merged;
    integer l;
    always @* begin
        cur_lane = 64'd0;
        merged = mem_q;
        for (l = 0; l < LANES; l = l + 1) begin
            if (r_lane == l[LW-1:0]) begin
                cur_lane = mem_q[l*64 +: 64];
                merged[l*64 +: 64] = r_ops[127:64];
            end
        end
    end
    wire cas_swap = r_casw && cur_lane == r_ops[63:0];
    assign mem_we = w_en || cas_swap;
    assign mem_waddr = r_casw ? r_addr : w_addr;
    assign mem_wdata = r_casw ? merged : w_data;

    wire read_issue = r_busy && r_ok && r_is_read && out_fire && r_cnt + 1'b1 >= HB_R && r_cnt < r_lastb;
    wire cas_read = r_busy && r_is_cas && r_mem && !r_casw;
    assign mem_re = read_issue || cas_read;
    assign mem_raddr = r_addr;

    // ---------------------------------------------------------------- RESP data
    reg [127:0] rhdr;
    always @* begin
        rhdr = 128'd0;
        rhdr[HM_HDR_ROP_LSB +: 8] = r_op | HM_RESPONSE_BIT;
        rhdr[HM_HDR_RSTATUS_LSB +: 8] = r_status;
        rhdr[HM_HDR_RCONN_LSB +: 16] = r_hdr[HM_HDR_CONN_LSB +: 16];
        rhdr[HM_HDR_RREQ_LSB +: 32] = r_hdr[HM_HDR_REQ_LSB +: 32];
        if (r_op == HM_OP_RPC) begin
            rhdr[HM_HDR_RQUEUE_LSB +: 16] = r_ok ? {8'd0, r_queue} : 16'd0;
            rhdr[HM_HDR_RSLOT_LSB +: 16] = r_ok ? {8'd0, r_slot} : 16'd0;
            rhdr[HM_HDR_RLEN_LSB +: 32] = r_hdr[HM_HDR_LEN_LSB +: 32];
        end else if (r_is_read || r_is_cas || r_op == HM_OP_WRITE) begin
            rhdr[HM_HDR_REGION_LSB +: 8] = r_hdr[HM_HDR_REGION_LSB +: 8];
            rhdr[HM_HDR_OFFSET_LSB +: 24] = r_hdr[HM_HDR_OFFSET_LSB +: 24];
            rhdr[HM_HDR_RLEN_LSB +: 32] = !r_ok ? 32'd0 : r_is_read ? r_hdr[HM_HDR_LEN_LSB +: 32]
                                        : r_is_cas ? 32'd8 : 32'd0;
        end
    end

    generate
        if (DW >= 128) begin : g_wide_out
            always @* begin
                out_data = {DW{1'b0}};
                if (r_hdr_phase) out_data[127:0] = rhdr;
                else if (r_is_cas) out_data[63:0] = r_old;
                else out_data = mem_q;
            end
        end else begin : g_narrow_out
            always @* begin
                out_data = {DW{1'b0}};
                if (r_hdr_phase) out_data = rhdr[r_cnt[HBW-1:0]*DW +: DW];
                else if (r_is_cas) out_data[63:0] = r_old;
                else out_data = mem_q;
            end
        end
    endgenerate

    assign idle = !s_valid && !r_busy && !w_en && !in_pay && hcnt == {HBW{1'b0}};
    assign ev_done = resp_end;
    assign ev_op = r_op;
    assign ev_status = r_status;
    assign ev_suppressed = r_sup;

    // ---------------------------------------------------------------- registers
    always @(posedge clk) begin
        if (rst) begin
            s_valid <= 1'b0;
            s_data <= {DW{1'b0}};
            s_last <= 1'b0;
            s_kind <= K_HDR;
            s_trunc <= 1'b0;
            hcnt <= {HBW{1'b0}};
            in_pay <= 1'b0;
            c_hdr <= 128'd0;
            c_status <= HM_ST_OK;
            c_rem <= {EW{1'b0}};
            c_more <= 1'b0;
            c_more2 <= 1'b0;
            c_ok <= 1'b1;
            c_waddr <= {AW{1'b0}};
            c_addr <= {AW{1'b0}};
            c_lane <= {LW{1'b0}};
            c_read_lastb <= {RW{1'b0}};
            c_slot <= 8'd0;
            c_queue <= 8'd0;
            c_func <= 16'd0;
            c_ops_lo <= 64'd0;
            w_en <= 1'b0;
            w_addr <= {AW{1'b0}};
            w_data <= {DW{1'b0}};
            r_busy <= 1'b0;
            r_hdr <= 128'd0;
            r_status <= HM_ST_OK;
            r_queue <= 8'd0;
            r_slot <= 8'd0;
            r_addr <= {AW{1'b0}};
            r_lane <= {LW{1'b0}};
            r_ops <= 128'd0;
            r_old <= 64'd0;
            r_cnt <= {RW{1'b0}};
            r_lastb <= {RW{1'b0}};
            r_mem <= 1'b0;
            r_casw <= 1'b0;
            r_sup <= 1'b0;
            ev_swapped <= 1'b0;
        end else begin
            // IN: take a beat, classify it by where the packet is.
            if (in_fire) begin
                s_data <= in_data;
                s_last <= in_last;
                if (in_pay) begin
                    s_kind <= K_PAY;
                    s_trunc <= 1'b0;
                    if (in_last) in_pay <= 1'b0;
                end else if (hcnt == HB_LAST || in_last) begin
                    s_kind <= K_DEC;
                    s_trunc <= hcnt != HB_LAST;
                    hcnt <= {HBW{1'b0}};
                    in_pay <= !in_last;
                end else begin
                    s_kind <= K_HDR;
                    s_trunc <= 1'b0;
                    hcnt <= hcnt + 1'b1;
                end
            end
            if (in_fire) s_valid <= 1'b1;
            else if (go) s_valid <= 1'b0;

            // DEC / EXE
            w_en <= 1'b0;
            if (go && d_act) begin
                c_hdr <= dhdr;
                c_status <= dec_status;
                c_ok <= dec_ok;
                c_rem <= p_expected;
                c_more <= p_more;
                c_more2 <= p_more2;
                c_func <= h_func;
                c_queue <= sel_queue;
                c_slot <= q_tail;
                c_lane <= p_lane;
                c_read_lastb <= p_read_lastb;
                if (is_rpc) begin
                    c_addr <= rpc_slot_addr;
                    c_waddr <= rpc_slot_addr + 1'b1;
                end else begin
                    c_addr <= p_mem_word;
                    c_waddr <= p_mem_word;
                end
                // The RPC descriptor goes into its slot as soon as the
                // header passes; the slot counts only once committed.
                w_en <= is_rpc && dec_ok;
                w_addr <= rpc_slot_addr;
                w_data <= {DW{1'b0}};
                w_data[63:0] <= {h_len16, dhdr[HM_HDR_CONN_LSB +: 16], dhdr[HM_HDR_REQ_LSB +: 32]};
            end
            if (go && x_act) begin
                c_rem <= rem_dec;
                c_more <= c_more2;
                c_more2 <= rem_ge3;
                c_status <= st_beat;
                c_ok <= pay_store;
                if (pay_store) begin
                    c_waddr <= c_waddr + 1'b1;
                    c_ops_lo <= s_data[63:0];
                end
                w_en <= pay_store && (c_is_rpc || c_is_write);
                w_addr <= c_waddr;
                w_data <= s_data;
            end

            // RESP: take the ended packet's job, or advance the current one.
            if (r_busy) begin
                if (out_fire) r_cnt <= r_cnt + 1'b1;
                if (read_issue) begin
                    r_addr <= r_addr + 1'b1;
                    if (r_cnt + 1'b1 == r_lastb) r_mem <= 1'b0;
                end
                if (cas_read) r_casw <= 1'b1;
                if (r_casw) begin
                    r_casw <= 1'b0;
                    r_mem <= 1'b0;
                    r_old <= cur_lane;
                    ev_swapped <= cas_swap;
                end
                if (resp_end) r_busy <= 1'b0;
            end
            if (go && ends) begin
                r_busy <= 1'b1;
                r_hdr <= e_hdr;
                r_status <= e_status;
                r_queue <= ev_queue;
                r_slot <= d_act ? q_tail : c_slot;
                r_addr <= d_act ? p_mem_word : c_addr;
                r_lane <= d_act ? p_lane : c_lane;
                r_ops <= ops_now;
                r_cnt <= {RW{1'b0}};
                r_lastb <= e_lastb;
                r_mem <= e_cas || (e_read && e_lastb != HB_LAST_R);
                r_casw <= 1'b0;
                r_sup <= e_ok && (e_flags & HM_FLAG_SUPPRESS_OK) != 8'd0
                         && (e_op == HM_OP_RPC || e_op == HM_OP_WRITE);
                ev_swapped <= 1'b0;
            end
        end
    end
endmodule

`default_nettype wire
